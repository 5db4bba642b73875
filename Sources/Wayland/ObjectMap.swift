import PortholeSystem

/// The objects alive on one Wayland connection, as a proxy sees them: id to
/// interface and version. Both directions feed it: requests create client ids
/// (below 0xFF000000), events create server ids.
public final class ObjectMap {
    /// One tracked object.
    public struct Entry {
        public var interface: Interface
        public var version: UInt32
        /// False after a destructor, until the server's delete_id frees the id.
        public var alive: Bool
    }

    /// Why a message cannot be applied to the map.
    public enum TrackError: Error, CustomStringConvertible, Equatable, Sendable {
        case idInUse(UInt32)
        case idOutOfRange(UInt32, String)
        case idSkipsAhead(UInt32, next: UInt32)
        case unknownInterface(String)
        case badVersion(String, UInt32)

        public var description: String {
            switch self {
            case .idInUse(let id): return "new id \(id) is already in use"
            case .idOutOfRange(let id, let side): return "new id \(id) is outside the \(side) range"
            case .idSkipsAhead(let id, let next): return "new id \(id) skips ahead of the next id, \(next)"
            // Names come from a peer's untyped new_id: escaped, as they may reach a log line.
            case .unknownInterface(let n): return "unknown interface \(LogText.escaped(n, limit: 128))"
            case .badVersion(let n, let v): return "version \(v) of \(LogText.escaped(n, limit: 128, quoted: false)) is not supported"
            }
        }
    }

    // `@exclusivity(unchecked)`, as `WriteQueue.bytes` (which says why): every
    // access to these ends before anything that could reach back here.
    @exclusivity(unchecked) public private(set) var objects: [UInt32: Entry] = [:]
    public let tables: ProtocolTables
    /// Ids in the client's range held now (the display, live objects and
    /// destroyed ones awaiting delete_id): what a client makes the
    /// compositor keep, and what a quota counts.
    @exclusivity(unchecked) public private(set) var clientIDs = 1
    /// One more than the highest client id ever used: a new client id may
    /// reuse a freed one or be this one, never more (libwayland's server
    /// keeps its client ids in an array and refuses a gap).
    @exclusivity(unchecked) public private(set) var nextClientID: UInt32 = Wire.displayID + 1

    public init(tables: ProtocolTables) {
        self.tables = tables
        objects[Wire.displayID] = Entry(interface: tables.display, version: 1, alive: true)
    }

    /// The live-or-zombie entry for `id`.
    public subscript(id: UInt32) -> Entry? { objects[id] }

    /// Number of ids tracked.
    public var count: Int { objects.count }

    /// Records the effects of a message: new ids, destructors and delete_id.
    /// `isRequest` tells which direction the message travels.
    public func apply(sender: UInt32, entry: Entry, opcode: UInt16, spec: MessageSpec, args: [WireArg], isRequest: Bool) throws(TrackError) {
        for (a, value) in zip(spec.args, args) {
            switch value {
            case .newID(let id):
                guard let name = a.interface, let iface = tables[name] else { throw .unknownInterface(a.interface ?? "?") }
                try insert(id, iface, version: min(entry.version, iface.version), fromClient: isRequest)
            case .untypedNewID(let nameBytes, let version, let id):
                let name = String(decoding: nameBytes, as: UTF8.self)
                guard let iface = tables[name] else { throw .unknownInterface(name) }
                guard version >= 1 && version <= iface.version else { throw .badVersion(name, version) }
                try insert(id, iface, version: version, fromClient: isRequest)
            default:
                break
            }
        }
        if spec.isDestructor { destroy(sender) }
        if !isRequest && sender == Wire.displayID && opcode == 1, case .uint(let id)? = args.first, objects[id]?.alive == false {
            // wl_display.delete_id: the id may be reused from now on. Only a
            // destroyed object's: for a live one (the display included: found
            // by fuzz-object-map, which lost it) libwayland only notes the
            // deletion, and the object lives until its destructor.
            objects.removeValue(forKey: id)
            if id < Wire.serverIDStart { clientIDs -= 1 }
        }
    }

    /// Adds an object created outside a message (tests, or the display).
    public func insert(_ id: UInt32, _ iface: Interface, version: UInt32, fromClient: Bool) throws(TrackError) {
        if fromClient {
            guard id != 0 && id < Wire.serverIDStart else { throw .idOutOfRange(id, "client") }
            guard id <= nextClientID else { throw .idSkipsAhead(id, next: nextClientID) }
        } else {
            guard id >= Wire.serverIDStart else { throw .idOutOfRange(id, "server") }
        }
        if let existing = objects[id], existing.alive { throw .idInUse(id) }
        if objects.updateValue(Entry(interface: iface, version: version, alive: true), forKey: id) == nil && id < Wire.serverIDStart {
            clientIDs += 1
        }
        if fromClient && id == nextClientID { nextClientID += 1 }
    }

    /// Marks `id` destroyed. Client ids wait for delete_id; server ids go now.
    public func destroy(_ id: UInt32) {
        if id >= Wire.serverIDStart { objects.removeValue(forKey: id) } else { objects[id]?.alive = false }
    }
}
