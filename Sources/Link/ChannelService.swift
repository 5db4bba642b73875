/// What a channel carries on the host side (the `service` field of
/// `channelOpen`, link protocol §3.3): a Wayland client for the host
/// compositor, a producer for the host's buffer service, or a consumer of
/// it in the guest. `bufferService` needs the `bufferService` feature on
/// the link, `bufferConsumer` the `bufferConsumers` feature.
public enum ChannelService: UInt32, Sendable, CustomStringConvertible {
    case compositor = 0
    case bufferService = 1
    case bufferConsumer = 2

    public var description: String {
        switch self {
        case .compositor: return "compositor"
        case .bufferService: return "buffer service"
        case .bufferConsumer: return "buffer consumer"
        }
    }
}
