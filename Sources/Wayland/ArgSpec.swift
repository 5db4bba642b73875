/// One argument of a request or event: its wire type, its name in the
/// protocol XML ("" when unknown), the interface it names (for object and
/// new_id; nil means any or, for new_id, untyped as in wl_registry.bind) and
/// whether it may be null; for an int or uint, the enumeration it names.
public struct ArgSpec: Sendable, Equatable {
    public var type: ArgType
    /// Only for people reading traces and for generated code; the wire does
    /// not carry it.
    public var name: String
    public var interface: String?
    public var nullable: Bool
    /// The enumeration the protocol says this argument holds, qualified
    /// (`wl_output.transform`), as written.
    public var enumName: String?
    /// That enumeration, once the tables holding it are known (see
    /// `ProtocolTables.resolvingEnums`); nil when none or not found.
    public var enumeration: EnumSpec?

    public init(_ type: ArgType, name: String = "", interface: String? = nil, nullable: Bool = false, enumName: String? = nil) {
        self.type = type
        self.name = name
        self.interface = interface
        self.nullable = nullable
        self.enumName = enumName
    }

    /// Equal when the protocol says the same: `enumeration` follows from
    /// `enumName` and whichever tables resolved it.
    public static func == (a: ArgSpec, b: ArgSpec) -> Bool {
        a.type == b.type && a.name == b.name && a.interface == b.interface && a.nullable == b.nullable && a.enumName == b.enumName
    }

    /// Whether `name` can be an argument name: ASCII letters, digits and
    /// underscores, not starting with a digit. Names end up in the signature
    /// text, separated by spaces, and in generated Swift, so nothing else may
    /// pass.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { c in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || c == UInt8(ascii: "_")
        }
    }
}
