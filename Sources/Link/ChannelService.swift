/// What a channel carries on the host side (the `service` field of
/// `channelOpen`, link protocol §3.3): a Wayland client for the host
/// compositor, or a producer for the host's buffer service. Anything but
/// `compositor` needs the `bufferService` feature on the link.
public enum ChannelService: UInt32, Sendable, CustomStringConvertible {
    case compositor = 0
    case bufferService = 1

    public var description: String {
        switch self {
        case .compositor: return "compositor"
        case .bufferService: return "buffer service"
        }
    }
}
