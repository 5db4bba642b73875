/// Bounds on what one guest may register.
public struct RegistryLimits: Sendable {
    public var maxBuffers = 8192
    public var maxRangesPerBuffer = 64
    /// Ranges of all registered buffers together.
    public var maxRanges = 65536
    public var maxProperties = 32
    public var maxNameBytes = 64
    public var maxValueBytes = 256
    public var maxApplicationBytes = 256
    /// Range offsets and lengths are multiples of this (a cache line).
    public var alignment: UInt64 = 64
    public init() {}
}
