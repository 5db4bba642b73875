/// A hybrid-vsock VMM's answer to `CONNECT <port>\n` (Firecracker,
/// cloud-hypervisor): one line, `OK` alone or followed by a space and more
/// (the port the VMM assigned), ended by `\n` (a `\r` before it is allowed).
/// Fed what is waiting at the front of the socket, it takes only the answer's
/// bytes: what follows the line is the link's, and must stay in the socket.
public struct VsockMuxReply {
    /// Longest answer line accepted, newline included.
    public static let maxLine = 256

    public enum Outcome: Equatable, Sendable {
        /// No newline yet: read again.
        case needMore
        /// The VMM connected us.
        case accepted
        /// The VMM said something else (escaped for a message).
        case refused(String)
        /// No newline within `maxLine` bytes.
        case tooLong
    }

    private var line: [UInt8] = []

    public init() {}

    /// Looks at `available` (bytes peeked from the socket): returns how many
    /// of them to take out of the socket, and what the answer is so far.
    public mutating func feed(_ available: UnsafeRawBufferPointer) -> (take: Int, outcome: Outcome) {
        let room = Self.maxLine - line.count
        let window = available.prefix(room)
        if let newline = window.firstIndex(of: UInt8(ascii: "\n")) {
            let take = newline - window.startIndex + 1
            line += window.prefix(take)
            return (take, verdict())
        }
        line += window
        return (window.count, line.count >= Self.maxLine ? .tooLong : .needMore)
    }

    private func verdict() -> Outcome {
        var text = line.dropLast()
        if text.last == UInt8(ascii: "\r") { text = text.dropLast() }
        if text.elementsEqual("OK".utf8) || text.starts(with: "OK ".utf8) { return .accepted }
        return .refused(LogText.escaped(text, limit: 128))
    }
}
