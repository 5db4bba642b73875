/// What one guest's producers hold in the buffer service, against the
/// per-guest quotas (`BufferServiceLimits.buffersPerGuest`, `bytesPerGuest`).
struct GuestUsage {
    var buffers = 0
    var bytes: UInt64 = 0
}
