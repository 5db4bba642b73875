// Wayland messages against the built-in tables, in either direction, on a
// connection that has one object of every interface (at server ids, so
// that a recorded session's own ids, from 2 up, are made by its own
// requests): the header checks,
// the argument codec, the typed messages the proxies interpret, the trace
// line and the object map. Arguments that decode must encode back to the
// same arguments; a typed message must give back its arguments; a trace
// line must carry no control character.
import FuzzSupport
import Wayland

let tables = ProtocolTables.builtin
let interfaces = tables.interfaces.values.sorted { $0.name < $1.name }

runFuzzer { data in
    var input = FuzzInput(data)
    let isRequest = input.byte() & 1 == 0
    let objects = ObjectMap(tables: tables)
    for (i, iface) in interfaces.enumerated() {
        try? objects.insert(Wire.serverIDStart + UInt32(i), iface, version: iface.version, fromClient: false)
    }
    let stream = input.rest()
    stream.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
            guard let h = MessageHeader.peek(rest), (try? h.validate()) != nil, h.size <= rest.count else { return }
            offset += h.size
            guard let entry = objects[h.objectID] else { continue }
            let list = isRequest ? entry.interface.requests : entry.interface.events
            guard Int(h.opcode) < list.count else { continue }
            let spec = list[Int(h.opcode)]
            guard let args = try? WireCodec.decode(UnsafeRawBufferPointer(rebasing: rest[0..<h.size]), spec) else { continue }
            let again = WireCodec.encode(objectID: h.objectID, opcode: h.opcode, args).withUnsafeBytes { try? WireCodec.decode($0, spec) }
            FuzzCheck(again == args, "\(entry.interface.name).\(spec.name) arguments encode to others")
            if let kind = spec.kind, let typed = kind.messageType.init(args) {
                FuzzCheck(typed.args == args, "typed \(entry.interface.name).\(spec.name) gives back other arguments")
            }
            let line = MessageTrace.describe(objectID: h.objectID, interface: entry.interface, spec: spec, args: args)
            FuzzCheck(!line.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "a control character in the trace line \(line)")
            try? objects.apply(sender: h.objectID, entry: entry, opcode: h.opcode, spec: spec, args: args, isRequest: isRequest)
        }
    }
}
