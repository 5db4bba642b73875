/// Why a channel ended, as its user is told.
public enum ChannelCloseCause: Sendable, Equatable {
    /// This side closed it (`LinkChannel.close`).
    case local
    /// The peer closed it with `code` and `reason`.
    case peer(code: ChannelCloseCode, reason: String)
    /// The link ended, and every channel with it.
    case linkClosed(reason: String)
}
