/// The code of a `channelClose` frame (docs/link-protocol.md §10). Unknown
/// codes are kept as they came: receivers only tell zero from non-zero.
public struct ChannelCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// A normal close (a peer disconnected, a local refusal, shutdown); also every acknowledgement.
    public static let normal = ChannelCloseCode(rawValue: 0)
    /// The host refused a message from the guest; the client was sent the Wayland error.
    public static let refusedMessage = ChannelCloseCode(rawValue: 1)
    /// The host compositor sent something the host proxy cannot carry.
    public static let compositorFault = ChannelCloseCode(rawValue: 2)
    /// The host could not open the channel (compositor unreachable or setup failed).
    public static let unavailable = ChannelCloseCode(rawValue: 3)

    public var description: String { "\(rawValue)" }
}
