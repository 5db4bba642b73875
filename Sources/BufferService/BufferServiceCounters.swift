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
    /// Consumers closed for being too slow.
    public var evictions: UInt64 = 0
}
