import Wayland

/// Takes whole messages out of a byte stream and decodes them against the
/// objects of the connection.
enum MessageParser {
    /// The next whole message at the start of `bytes`, or nil if it is not
    /// complete yet. `availableFds` is how many fds arrived so far.
    static func next(_ bytes: UnsafeRawBufferPointer, objects: ObjectMap, isRequest: Bool, availableFds: Int) throws(MessageFault) -> ParsedMessage? {
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
        let spec = list[Int(header.opcode)]
        if isRequest && spec.since > target.version {
            throw .invalidMethod(header.objectID, "\(target.interface.name).\(spec.name) needs version \(spec.since), object has \(target.version)")
        }
        let message = UnsafeRawBufferPointer(rebasing: bytes[0..<header.size])
        let args: [WireArg]
        do { args = try WireCodec.decode(message, spec) } catch {
            throw .invalidMethod(header.objectID, "\(target.interface.name).\(spec.name): \(error)")
        }
        guard spec.fdCount <= availableFds else {
            throw .invalidMethod(header.objectID, "\(target.interface.name).\(spec.name): file descriptor missing")
        }
        return ParsedMessage(header: header, target: target, spec: spec, args: args, bytes: Array(message))
    }
}
