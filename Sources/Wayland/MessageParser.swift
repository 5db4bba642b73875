
/// Takes whole messages out of a byte stream and decodes them against the
/// objects of the connection.
public enum MessageParser {
    /// The next whole message at the start of `bytes`, or nil if it is not
    /// complete yet. `availableFds` is how many fds arrived so far.
    public static func next(_ bytes: UnsafeRawBufferPointer, objects: ObjectMap, isRequest: Bool, availableFds: Int) throws(MessageFault) -> ParsedMessage? {
        guard let header = MessageHeader.peek(bytes) else { return nil }
        do { try header.validate() } catch {
            throw .invalidMethod(header.objectID, "malformed message header: \(error)")
        }
        guard bytes.count >= header.size else { return nil }
        guard let target = objects[header.objectID] else {
            throw .invalidObject("invalid object \(header.objectID)")
        }
        let list = isRequest ? target.interface.requests : target.interface.events
        guard Int(header.opcode) < list.count else {
            throw .invalidMethod(header.objectID, "invalid \(isRequest ? "request" : "event") opcode \(header.opcode) on \(target.interface.name)@\(header.objectID)")
        }
        // A destroyed object awaits delete_id only so that its id is not
        // reused too early; the compositor has forgotten it already.
        if isRequest && !target.alive {
            throw .invalidObject("\(target.interface.name)@\(header.objectID) was destroyed")
        }
        let spec = list[Int(header.opcode)]
        if isRequest && spec.since > target.version {
            throw .invalidMethod(header.objectID, "\(target.interface.name).\(spec.name) needs version \(spec.since), object has \(target.version)")
        }
        let message = UnsafeRawBufferPointer(rebasing: bytes[0..<header.size])
        let args: [WireArg]
        do { args = try WireCodec.decode(message, spec) } catch {
            throw .invalidMethod(header.objectID, "\(target.interface.name).\(spec.name): \(error)")
        }
        if isRequest { try checkArguments(args, spec, of: target, sender: header.objectID, objects: objects) }
        guard spec.fdCount <= availableFds else {
            throw .invalidMethod(header.objectID, "\(target.interface.name).\(spec.name): file descriptor missing")
        }
        return ParsedMessage(header: header, target: target, spec: spec, args: args, bytes: Array(message))
    }

    /// Every object a request names exists, is alive and is of the
    /// interface its argument names, as the compositor would check, and
    /// every value of an enumeration is one it has at the object's version
    /// (events are the compositor's own, and may name objects the client
    /// destroyed).
    private static func checkArguments(_ args: [WireArg], _ spec: MessageSpec, of target: ObjectMap.Entry, sender: UInt32,
                                       objects: ObjectMap) throws(MessageFault) {
        for index in args.indices {
            if let e = spec.args[index].enumeration {
                let v: UInt32
                switch args[index] {
                case .uint(let u): v = u
                case .int(let i): v = UInt32(bitPattern: i)
                default: continue
                }
                guard e.allows(v, version: target.version) else {
                    throw .invalidMethod(sender, "\(target.interface.name).\(spec.name): \(spec.args[index].name) \(v) is not \(e.isBitfield ? "made of" : "one of") \(e.name) at version \(target.version)")
                }
                continue
            }
            guard case .object(let id) = args[index], id != 0 else { continue }
            // Named only when refused: this runs for every object argument.
            func what() -> String {
                let name = spec.args[index].name
                return "\(target.interface.name).\(spec.name): \(name.isEmpty ? "object" : name) \(id)"
            }
            guard let entry = objects[id] else { throw .display(.invalidObject, object: sender, "\(what()) does not exist") }
            guard entry.alive else { throw .display(.invalidObject, object: sender, "\(what()) was destroyed") }
            if let wanted = spec.args[index].interface, entry.interface.name != wanted {
                throw .display(.invalidObject, object: sender, "\(what()) is a \(entry.interface.name), not a \(wanted)")
            }
        }
    }
}
