/// A run of region bytes: where a buffer's memory is.
public struct MemoryRange: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var offset: UInt64
    public var length: UInt64
    public init(offset: UInt64, length: UInt64) {
        self.offset = offset
        self.length = length
    }
    public var description: String { "[\(offset), +\(length))" }
}

/// One free-form property as it arrives: raw bytes, checked by the registry.
public struct BufferProperty: Equatable, Sendable {
    public var name: [UInt8]
    public var value: [UInt8]
    public init(name: [UInt8], value: [UInt8]) {
        self.name = name
        self.value = value
    }
    public init(_ name: String, _ value: String) {
        self.name = Array(name.utf8)
        self.value = Array(value.utf8)
    }
}

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

/// A buffer the registry accepted.
public struct RegisteredBuffer: Equatable, Sendable {
    public let id: UInt32
    public let size: UInt64
    public let application: String
    /// Sorted by offset, non-overlapping, inside the region's data area.
    public let ranges: [MemoryRange]
    /// Free-form properties by name.
    public let properties: [String: String]

    /// Whether `[offset, offset + length)` lies inside one of the ranges.
    public func contains(offset: UInt64, length: UInt64) -> Bool {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow else { return false }
        return ranges.contains { $0.offset <= offset && end <= $0.offset + $0.length }
    }
}
