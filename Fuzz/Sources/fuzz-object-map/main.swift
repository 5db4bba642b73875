// The object map through sequences of requests and events that create,
// destroy and delete objects (typed and untyped new ids, destructors both
// ways, delete_id), with whatever ids the input picks. After each step:
// the client ids counted are those in the map, none reaches the next id,
// and a refused step changed nothing.
import FuzzSupport
import Wayland

let tables = ProtocolTables.builtin
let interfaces = tables.interfaces.values.sorted { $0.name < $1.name }
/// Messages that create an object or destroy one, in either direction.
let creating: [(Interface, UInt16, MessageSpec, Bool)] = interfaces.flatMap { iface in
    iface.requests.enumerated().map { (iface, UInt16($0.offset), $0.element, true) }
        + iface.events.enumerated().map { (iface, UInt16($0.offset), $0.element, false) }
}.filter { _, _, spec, _ in spec.isDestructor || spec.args.contains { $0.type == .newID } }

func snapshot(_ m: ObjectMap) -> [UInt32: String] { m.objects.mapValues { "\($0.interface.name) \($0.version) \($0.alive)" } }

runFuzzer { data in
    var input = FuzzInput(data)
    let map = ObjectMap(tables: tables)
    var steps = 0
    while !input.isEmpty && steps < 256 {
        steps += 1
        let before = snapshot(map)
        let ids = map.objects.keys.sorted()
        // An id near what the map holds: in use, freed, next, or beyond.
        func pickID() -> UInt32 {
            switch input.below(4) {
            case 0: return ids[input.below(ids.count)]
            case 1: return map.nextClientID &+ UInt32(input.below(3)) &- 1
            case 2: return 0xFF00_0000 &+ UInt32(input.below(8))
            default: return input.u32()
            }
        }
        if input.below(8) == 0 {
            // wl_display.delete_id
            let id = pickID()
            try? map.apply(sender: 1, entry: map[1]!, opcode: 1, spec: tables.display.events[1], args: [.uint(id)], isRequest: false)
        } else {
            let (iface, opcode, spec, isRequest) = creating[input.below(creating.count)]
            let sender = pickID()
            guard let entry = map[sender], entry.interface.name == iface.name else { continue }
            let args: [WireArg] = spec.args.map { a in
                switch a.type {
                case .newID where a.interface == nil:
                    let name = interfaces[input.below(interfaces.count)].name
                    return .untypedNewID(interface: Array(name.utf8), version: UInt32(input.below(6)), id: pickID())
                case .newID: return .newID(pickID())
                case .object: return .object(pickID())
                case .string: return .text("x")
                case .array: return .array([])
                case .fd: return .fd
                case .fixed: return .fixed(0)
                case .int: return .int(0)
                case .uint: return .uint(0)
                }
            }
            do {
                try map.apply(sender: sender, entry: entry, opcode: opcode, spec: spec, args: args, isRequest: isRequest)
            } catch {
                // A message with one new id is refused whole.
                if spec.args.filter({ $0.type == .newID }).count <= 1 {
                    FuzzCheck(snapshot(map) == before, "a refused \(iface.name).\(spec.name) changed the map: \(error)")
                }
            }
        }
        let client = map.objects.keys.filter { $0 < Wire.serverIDStart }
        FuzzCheck(client.count == map.clientIDs, "\(map.clientIDs) client ids counted, \(client.count) in the map")
        FuzzCheck(client.allSatisfy { $0 < map.nextClientID }, "a client id at or past the next one, \(map.nextClientID)")
        FuzzCheck(map[1]?.interface.name == "wl_display", "the display is gone")
    }
}
