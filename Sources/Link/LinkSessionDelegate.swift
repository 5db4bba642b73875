/// What a link session tells the proxy that owns it.
public protocol LinkSessionDelegate: AnyObject {
    /// The handshake finished: channels may be opened.
    func sessionDidOpen(_ session: LinkSession)
    /// The link ended; every channel on it was closed first.
    func sessionDidClose(_ session: LinkSession, reason: String)
    /// Host: the guest opens `channel`. Set its delegate, or throw to refuse it.
    func session(_ session: LinkSession, opens channel: LinkChannel) throws(ChannelError)
    /// Guest: the host offers a bulk lane for this link (docs/link-protocol.md §14).
    func session(_ session: LinkSession, offersLane token: [UInt8])
    /// Host: this session's connection asks to be the bulk lane of the link
    /// that offered `token`; that link's main connection, or nil.
    func session(_ session: LinkSession, attachesLane token: [UInt8]) -> LinkEndpoint?
}

extension LinkSessionDelegate {
    public func session(_ session: LinkSession, opens channel: LinkChannel) throws(ChannelError) {
        throw ChannelError("this side does not accept channels")
    }
    public func session(_ session: LinkSession, offersLane token: [UInt8]) {}
    public func session(_ session: LinkSession, attachesLane token: [UInt8]) -> LinkEndpoint? { nil }
}
