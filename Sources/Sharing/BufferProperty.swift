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

    /// Whether `name` may name a property wherever a guest gives one (the
    /// link's buffer registry, the buffer service): 1 to `maxBytes` bytes of
    /// a-z, A-Z, 0-9, '_', '-', '.', so it is safe in logs, files and
    /// command lines as it is.
    public static func isValidName(_ name: [UInt8], maxBytes: Int) -> Bool {
        !name.isEmpty && name.count <= maxBytes && name.allSatisfy { nameBytes.contains($0) }
    }

    private static let nameBytes: Set<UInt8> = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.".utf8))
}
