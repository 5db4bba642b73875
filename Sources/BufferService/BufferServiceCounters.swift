/// What the buffer service reports in the host's stats.
public struct BufferServiceCounters: Sendable {
    /// Buffers registered now (each holds one memfd).
    public var buffers = 0
    /// Producer connections open now.
    public var producers = 0
    /// Consumer connections open now.
    public var consumers = 0
    /// Presents received, all time.
    public var presents: UInt64 = 0
    /// Producer resets (and producers that went away with buffers).
    public var resets: UInt64 = 0
    /// Bytes the service copied from guests' regions into region buffers'
    /// copies, for consumers not trusted with a region, all time (the only
    /// host copy of region buffers; 0 while every consumer is trusted).
    public var regionCopyBytes: UInt64 = 0
    /// References exported and not revoked, now.
    public var references = 0
    /// Consumers closed for being too slow.
    public var evictions: UInt64 = 0
}
