/// Why a channel could not do what its local user asked (open a resource,
/// hand out the fd for one, ...). Unlike `LinkProtocolError`, this is no
/// fault of the peer: the caller decides whom to blame (usually the local
/// Wayland client, which then gets a protocol error).
public struct ChannelError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
