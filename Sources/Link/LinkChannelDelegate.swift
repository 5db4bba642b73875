/// What a channel tells its user: the Wayland connection it carries.
public protocol LinkChannelDelegate: AnyObject {
    /// Both sides know each other's buffer size: data may be sent.
    func channelDidEstablish(_ channel: LinkChannel)
    /// Wayland bytes (whole messages) from the peer, with the resources that
    /// stand for their fds, in order.
    func channel(_ channel: LinkChannel, received bytes: [UInt8], resources: [UInt32])
    /// Credit came back or the link drained: a producer that paused may go on.
    func channelCanSend(_ channel: LinkChannel)
    /// A data frame or a resource close is about to be queued: anything that
    /// must reach the peer before it (pixel updates recorded at a commit)
    /// goes now.
    func channelWillFlush(_ channel: LinkChannel)
    /// The channel is closed and its resources are freed.
    func channelDidClose(_ channel: LinkChannel, cause: ChannelCloseCause)
}
