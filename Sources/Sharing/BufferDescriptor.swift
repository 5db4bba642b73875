/// A buffer as the guest describes it when registering: its fixed properties
/// (id, size, application), its memory ranges and free-form properties such
/// as width, height, stride and format. Nothing here is trusted until
/// `BufferRegistry.register` has checked it.
public struct BufferDescriptor: Equatable, Sendable {
    public var id: UInt32
    /// Total bytes; must equal the sum of the range lengths.
    public var size: UInt64
    /// The program the buffer belongs to (UTF-8).
    public var application: [UInt8]
    public var ranges: [MemoryRange]
    public var properties: [BufferProperty]

    public init(id: UInt32, size: UInt64, application: [UInt8], ranges: [MemoryRange], properties: [BufferProperty]) {
        self.id = id
        self.size = size
        self.application = application
        self.ranges = ranges
        self.properties = properties
    }

    /// A descriptor whose size is the sum of `ranges`.
    public init(id: UInt32, application: String, ranges: [MemoryRange], properties: [(String, String)] = []) {
        self.init(id: id, size: ranges.reduce(0) { $0 &+ $1.length }, application: Array(application.utf8),
                  ranges: ranges, properties: properties.map { BufferProperty($0.0, $0.1) })
    }
}
