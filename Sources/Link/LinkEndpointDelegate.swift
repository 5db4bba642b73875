/// What a link endpoint reports to the proxy that owns it.
public protocol LinkEndpointDelegate: AnyObject {
    /// The handshake finished; channel frames may flow.
    func linkDidOpen(_ link: LinkEndpoint)
    /// A frame after the handshake. Throwing ends the link with that reason.
    func link(_ link: LinkEndpoint, received frame: LinkFrame) throws(LinkProtocolError)
    /// The outgoing queue fell below the high-water mark.
    func linkDidDrain(_ link: LinkEndpoint)
    /// The link is gone; every channel on it is dead.
    func linkDidClose(_ link: LinkEndpoint, reason: String)
    /// Where the data of a `resourceUpdate` goes, for a receiver that writes
    /// it straight into memory: called once the frame's header and range
    /// table have arrived and passed the decoder's checks, before its data.
    /// The receiver checks the ranges (throwing ends the link). Nil: the
    /// frame is delivered whole through `link(_:received:)` instead.
    func link(_ link: LinkEndpoint, updateTargetFor channel: UInt32, resource: UInt32,
              ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget?
}

extension LinkEndpointDelegate {
    public func link(_ link: LinkEndpoint, updateTargetFor channel: UInt32, resource: UInt32,
                     ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget? { nil }
}
