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

    // The bulk lane (docs/link-protocol.md §14). `link` is always the
    // link's main connection, also for what its lane read.

    /// Guest: the host offers a bulk lane; `token` attaches it.
    func link(_ link: LinkEndpoint, offersLane token: [UInt8])
    /// Host: a new connection (`lane`) asks to be the bulk lane of the link
    /// that offered `token`: that link's main connection, or nil (the new
    /// connection is then closed).
    func link(_ lane: LinkEndpoint, attachesLane token: [UInt8]) -> LinkEndpoint?
    /// Host: whether a frame of `channel` read on the lane may be handled
    /// now: its channel moved to the lane (or is closing). Otherwise its
    /// move, or its open, is still unread on the main connection.
    func link(_ link: LinkEndpoint, laneFrameReady channel: UInt32) -> Bool
    /// Host: a frame read on the lane (and ready).
    func link(_ link: LinkEndpoint, receivedOnLane frame: LinkFrame) throws(LinkProtocolError)
    /// Host: `link(_:updateTargetFor:...)` for an update read on the lane.
    func link(_ link: LinkEndpoint, laneUpdateTargetFor channel: UInt32, resource: UInt32,
              ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget?
}

extension LinkEndpointDelegate {
    public func link(_ link: LinkEndpoint, updateTargetFor channel: UInt32, resource: UInt32,
                     ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget? { nil }
    public func link(_ link: LinkEndpoint, offersLane token: [UInt8]) {}
    public func link(_ lane: LinkEndpoint, attachesLane token: [UInt8]) -> LinkEndpoint? { nil }
    public func link(_ link: LinkEndpoint, laneFrameReady channel: UInt32) -> Bool { false }
    public func link(_ link: LinkEndpoint, receivedOnLane frame: LinkFrame) throws(LinkProtocolError) {
        throw .unexpected("this side takes no bulk lane")
    }
    public func link(_ link: LinkEndpoint, laneUpdateTargetFor channel: UInt32, resource: UInt32,
                     ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget? { nil }
}
