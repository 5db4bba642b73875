/// A protocol interface: name, highest version described, requests and events
/// in opcode order.
public final class Interface: Sendable, CustomStringConvertible {
    public let name: String
    public let version: UInt32
    public let requests: [MessageSpec]
    public let events: [MessageSpec]
    /// Its enumerations that some request's argument names (only those are
    /// kept: they are what the proxies check).
    public let enums: [EnumSpec]

    public init(name: String, version: UInt32, requests: [MessageSpec], events: [MessageSpec], enums: [EnumSpec] = []) {
        self.name = name
        self.version = version
        self.enums = enums
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
