/// What one application of one guest holds in the buffer service, against
/// the per-application quotas (`BufferServiceLimits.buffersPerApplication`
/// and the rest), beside the guest's own: one runaway application cannot
/// take the whole of its guest's quota from the others.
struct ApplicationUsage {
    /// Its producers' buffers (ids), registered and not removed.
    var buffers: Set<UInt32> = []
    var bytes: UInt64 = 0
    /// Properties over all its buffers.
    var properties = 0
}

/// An application of a guest: the key of `ApplicationUsage`.
struct ApplicationKey: Hashable {
    let guest: String
    let application: String
}
