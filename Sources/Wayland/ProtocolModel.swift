/// The wire type of one message argument.
public enum ArgType: Sendable, Equatable {
    case int, uint, fixed, string, object, newID, array, fd
}

/// One argument of a request or event: its wire type, its name in the
/// protocol XML ("" when unknown), the interface it names (for object and
/// new_id; nil means any or, for new_id, untyped as in wl_registry.bind) and
/// whether it may be null.
public struct ArgSpec: Sendable, Equatable {
    public var type: ArgType
    /// Only for people reading traces and for generated code; the wire does
    /// not carry it.
    public var name: String
    public var interface: String?
    public var nullable: Bool

    public init(_ type: ArgType, name: String = "", interface: String? = nil, nullable: Bool = false) {
        self.type = type
        self.name = name
        self.interface = interface
        self.nullable = nullable
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

/// A request or event: name, first interface version that has it, whether it
/// destroys its object, its arguments and, for a message the proxies
/// interpret, which one it is.
public struct MessageSpec: Sendable, Equatable {
    public var name: String
    public var since: UInt32
    public var isDestructor: Bool
    public var args: [ArgSpec]
    /// Set by `Interface` from the interface and message names, once, so that
    /// code handling a message switches on this instead of comparing names.
    /// nil for a message no proxy looks into.
    public var kind: MessageKind?

    public init(name: String, since: UInt32 = 1, isDestructor: Bool = false, args: [ArgSpec]) {
        self.name = name
        self.since = since
        self.isDestructor = isDestructor
        self.args = args
    }

    /// Number of fd arguments (carried out of band).
    public var fdCount: Int { args.reduce(0) { $0 + ($1.type == .fd ? 1 : 0) } }
}

/// A protocol interface: name, highest version described, requests and events
/// in opcode order.
public final class Interface: Sendable, CustomStringConvertible {
    public let name: String
    public let version: UInt32
    public let requests: [MessageSpec]
    public let events: [MessageSpec]

    public init(name: String, version: UInt32, requests: [MessageSpec], events: [MessageSpec]) {
        self.name = name
        self.version = version
        // Every table, generated or loaded at run time, is built here, so
        // every one gets kinds.
        self.requests = requests.map { m in
            var m = m
            m.kind = MessageKind(interface: name, message: m.name, isRequest: true)
            return m
        }
        self.events = events.map { m in
            var m = m
            m.kind = MessageKind(interface: name, message: m.name, isRequest: false)
            return m
        }
    }

    public var description: String { name }

    /// The opcode of the request named `name`, if any.
    public func requestOpcode(_ name: String) -> UInt16? {
        requests.firstIndex { $0.name == name }.map { UInt16($0) }
    }

    /// The opcode of the event named `name`, if any.
    public func eventOpcode(_ name: String) -> UInt16? {
        events.firstIndex { $0.name == name }.map { UInt16($0) }
    }
}
