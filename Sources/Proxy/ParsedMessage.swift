import PortholeSystem
import Wayland

/// One whole Wayland message read from a stream, decoded against the object
/// it targets.
struct ParsedMessage {
    var header: MessageHeader
    var target: ObjectMap.Entry
    var spec: MessageSpec
    var args: [WireArg]
    /// The message's bytes as they will be forwarded.
    var bytes: [UInt8]

    /// "interface.message", for logs and table look-ups.
    var name: String { "\(target.interface.name).\(spec.name)" }
}

/// Why a Wayland message was refused. Carries what wl_display.error needs.
struct MessageFault: Error, CustomStringConvertible {
    /// The object the error is about.
    var objectID: UInt32
    /// The error code (wl_display's or the interface's own enum).
    var code: UInt32
    var message: String

    var description: String { "object \(objectID), code \(code): \(message)" }

    static func invalidObject(_ id: UInt32, _ why: String) -> MessageFault { MessageFault(objectID: Wire.displayID, code: 0, message: why) }
    static func invalidMethod(_ id: UInt32, _ why: String) -> MessageFault { MessageFault(objectID: id, code: 1, message: why) }
    static func implementation(_ why: String) -> MessageFault { MessageFault(objectID: Wire.displayID, code: 3, message: why) }

    /// The wl_display.error event reporting this fault.
    var errorEvent: [UInt8] {
        WireCodec.encode(objectID: Wire.displayID, opcode: 0, [.object(objectID), .uint(code), .text(message)])
    }
}

enum MessageParser {
    /// Takes the next whole message out of `bytes` (starting at `offset`), or
    /// nil if it is not complete yet. `availableFds` is how many fds arrived so far.
    static func next(_ bytes: UnsafeRawBufferPointer, objects: ObjectMap, isRequest: Bool, availableFds: Int) throws(MessageFault) -> ParsedMessage? {
        guard let header = MessageHeader.peek(bytes) else { return nil }
        do { try header.validate() } catch {
            throw MessageFault.invalidMethod(header.objectID, "malformed message header: \(error)")
        }
        guard bytes.count >= header.size else { return nil }
        guard let target = objects[header.objectID] else {
            throw MessageFault.invalidObject(header.objectID, "invalid object \(header.objectID)")
        }
        let list = isRequest ? target.interface.requests : target.interface.events
        guard Int(header.opcode) < list.count else {
            throw MessageFault.invalidMethod(header.objectID, "invalid \(isRequest ? "request" : "event") opcode \(header.opcode) on \(target.interface.name)@\(header.objectID)")
        }
        let spec = list[Int(header.opcode)]
        if isRequest && spec.since > target.version {
            throw MessageFault.invalidMethod(header.objectID, "\(target.interface.name).\(spec.name) needs version \(spec.since), object has \(target.version)")
        }
        let message = UnsafeRawBufferPointer(rebasing: bytes[0..<header.size])
        let args: [WireArg]
        do { args = try WireCodec.decode(message, spec) } catch {
            throw MessageFault.invalidMethod(header.objectID, "\(target.interface.name).\(spec.name): \(error)")
        }
        guard spec.fdCount <= availableFds else {
            throw MessageFault.invalidMethod(header.objectID, "\(target.interface.name).\(spec.name): file descriptor missing")
        }
        return ParsedMessage(header: header, target: target, spec: spec, args: args, bytes: Array(message))
    }
}
