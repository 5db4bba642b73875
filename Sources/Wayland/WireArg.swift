/// One decoded argument. Strings and arrays keep their raw bytes (strings
/// without the NUL); `fd` has no bytes on the wire.
public enum WireArg: Equatable, Sendable {
    case int(Int32)
    case uint(UInt32)
    case fixed(Int32)
    case string([UInt8]?)
    case object(UInt32)
    case newID(UInt32)
    /// wl_registry.bind's new_id without a fixed interface.
    case untypedNewID(interface: [UInt8], version: UInt32, id: UInt32)
    case array([UInt8])
    case fd

    /// A string argument from Swift text.
    public static func text(_ s: String?) -> WireArg { .string(s.map { Array($0.utf8) }) }

    /// The value of an int/uint/fixed/object/new_id argument as raw bits.
    public var word: UInt32? {
        switch self {
        case .int(let v), .fixed(let v): return UInt32(bitPattern: v)
        case .uint(let v), .object(let v), .newID(let v): return v
        default: return nil
        }
    }

    /// The signed value of an int argument.
    public var intValue: Int32? { if case .int(let v) = self { return v }; return nil }
}
