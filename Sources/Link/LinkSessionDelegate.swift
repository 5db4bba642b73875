/// What a link session tells the proxy that owns it.
public protocol LinkSessionDelegate: AnyObject {
    /// The handshake finished: channels may be opened.
    func sessionDidOpen(_ session: LinkSession)
    /// The link ended; every channel on it was closed first.
    func sessionDidClose(_ session: LinkSession, reason: String)
    /// Host: the guest opens `channel`. Set its delegate, or throw to refuse it.
    func session(_ session: LinkSession, opens channel: LinkChannel) throws(ChannelError)
}

extension LinkSessionDelegate {
    public func session(_ session: LinkSession, opens channel: LinkChannel) throws(ChannelError) {
        throw ChannelError("this side does not accept channels")
    }
}
