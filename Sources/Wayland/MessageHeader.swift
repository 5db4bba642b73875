/// The header of one Wayland message.
public struct MessageHeader: Equatable, Sendable {
    public var objectID: UInt32
    public var opcode: UInt16
    /// Total size including the header, a multiple of 4.
    public var size: Int

    public init(objectID: UInt32, opcode: UInt16, size: Int) {
        self.objectID = objectID
        self.opcode = opcode
        self.size = size
    }

    /// Reads a header from the start of `bytes`; nil if fewer than 8 bytes.
    public static func peek(_ bytes: UnsafeRawBufferPointer) -> MessageHeader? {
        guard bytes.count >= Wire.headerSize else { return nil }
        let id = bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
        let word = bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        return MessageHeader(objectID: id, opcode: UInt16(word & 0xFFFF), size: Int(word >> 16))
    }

    /// Checks the size field: at least 8, a multiple of 4, at most 4096.
    public func validate() throws(WireError) {
        guard size >= Wire.headerSize else { throw .badSize(size, "below the 8-byte header") }
        guard size % 4 == 0 else { throw .badSize(size, "not a multiple of 4") }
        guard size <= Wire.maxMessageSize else { throw .badSize(size, "above \(Wire.maxMessageSize) bytes") }
    }
}
