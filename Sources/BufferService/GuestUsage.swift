/// What one guest's producers hold in the buffer service, against the
/// per-guest quotas (`BufferServiceLimits.buffersPerGuest`, `bytesPerGuest`),
/// and the copies of its Wayland windows' region buffers made for
/// untrusted consumers (`regionCopiesPerGuest`, `regionCopyBytesPerGuest`).
struct GuestUsage {
    var buffers = 0
    var bytes: UInt64 = 0
    var windowCopies = 0
    var windowCopyBytes: UInt64 = 0
}
