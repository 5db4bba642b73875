import PortholeSystem
import Wayland

/// A Wayland byte stream over a non-blocking unix socket, for either end:
/// outgoing messages are queued with their fds, incoming bytes are cut into
/// whole messages. It does not know which side it is on; callers resolve
/// each message's signature from their own object map.
final class WireConnection {
    /// The socket (owned).
    let socket: OwnedFD
    private let input = ReadBuffer()
    private let output = WriteQueue()

    /// Wraps a connected, non-blocking socket.
    init(socket: OwnedFD) { self.socket = socket }

    /// Encodes a message and queues it with the fds it carries.
    func enqueue(objectID: UInt32, opcode: UInt16, _ args: [WireArg], fds: [OwnedFD] = []) {
        output.enqueue(WireCodec.encode(objectID: objectID, opcode: opcode, args), fds: fds)
    }

    /// Whether queued output is waiting for the socket.
    var hasPendingOutput: Bool { !output.isEmpty }

    /// Writes what the socket takes; true when nothing is left queued.
    func flush() throws(SystemError) -> Bool { try output.flush(to: socket) }

    /// Reads what the socket has; false once the peer has closed.
    func fill() throws(SystemError) -> Bool { try input.fill(from: socket) }

    /// Cuts the next whole message off the input, or returns nil if it has not
    /// fully arrived. The size field is checked before waiting for the rest.
    func nextMessage() throws(WireError) -> (header: MessageHeader, bytes: [UInt8])? {
        guard let header = input.withUnconsumed({ MessageHeader.peek($0) }) else { return nil }
        try header.validate()
        guard input.count >= header.size else { return nil }
        let bytes = input.withUnconsumed { Array($0[0..<header.size]) }
        input.consume(header.size)
        return (header, bytes)
    }

    /// Takes the next `count` received fds, or nil if fewer have arrived.
    func takeFds(_ count: Int) -> [OwnedFD]? { input.takeFds(count) }
}

extension WireCodec {
    /// Decodes a whole message held in an array.
    static func decode(_ message: [UInt8], _ spec: MessageSpec) throws(WireError) -> [WireArg] {
        try message.withUnsafeBytes { raw in
            Result { () throws(WireError) -> [WireArg] in try WireCodec.decode(raw, spec) }
        }.get()
    }
}
