/// A request or event that the proxies interpret, as a value with one Swift
/// property per argument instead of a list of `WireArg`s read by position.
/// porthole-gen writes one conforming struct per message of
/// protocols/interpreted-messages.txt (Generated/InterpretedMessages.swift).
public protocol TypedMessage: Sendable {
    static var kind: MessageKind { get }
    static var interfaceName: String { get }
    static var messageName: String { get }
    /// The message's index among its interface's requests or events in the
    /// XML the struct was generated from.
    static var opcode: UInt16 { get }
    static var isRequest: Bool { get }

    /// The message from decoded arguments; nil when they do not have the shape
    /// the generated XML gives (count, and case per argument). Tables loaded
    /// at run time may redefine an interface, so a mismatch is an answer, not
    /// a trap.
    init?(_ args: [WireArg])

    /// The values back as wire arguments, in order (an fd as `.fd`).
    var args: [WireArg] { get }
}

extension TypedMessage {
    /// The whole message, header included, for sending on `objectID` (fds go
    /// separately, as for any message).
    public func encode(objectID: UInt32) -> [UInt8] {
        WireCodec.encode(objectID: objectID, opcode: Self.opcode, args)
    }
}
