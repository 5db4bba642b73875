/// Wayland wire constants and the 8-byte message header.
public enum Wire {
    /// Smallest message: the header alone.
    public static let headerSize = 8
    /// Largest message libwayland (<= 1.22) sends or accepts.
    public static let maxMessageSize = 4096
    /// First id the server allocates.
    public static let serverIDStart: UInt32 = 0xFF00_0000
    /// The display object's id.
    public static let displayID: UInt32 = 1
}

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

/// Why a message could not be decoded.
public enum WireError: Error, Equatable, CustomStringConvertible, Sendable {
    case badSize(Int, String)
    case truncated(String)
    case badString(String)
    case nullNotAllowed(String)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .badSize(let s, let why): return "message size \(s) \(why)"
        case .truncated(let what): return "message ends inside \(what)"
        case .badString(let why): return "bad string: \(why)"
        case .nullNotAllowed(let what): return "null \(what) where the protocol forbids it"
        case .trailingBytes(let n): return "\(n) bytes left over after the last argument"
        }
    }
}
