import PortholeSystem

/// A buffer as a consumer sees it: the host's numbers for it, its
/// properties and a read-only mapping of its bytes.
public struct ConsumedBuffer {
    public let id: UInt32
    public let guest: String
    public let application: String
    public let offset: Int
    public let size: Int
    public internal(set) var properties: [(name: String, value: String)] = []
    /// Every property has arrived (done).
    public internal(set) var complete = false
    public internal(set) var removed = false
    let viewID: UInt32
    let mapping: SharedMapping

    /// The property `name`, if the producer set it.
    public func property(_ name: String) -> String? { properties.first { $0.name == name }?.value }

    /// The buffer's bytes as they are now.
    public var bytes: UnsafeRawBufferPointer { mapping.bytes(at: offset, count: size) }
}
