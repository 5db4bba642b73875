import PortholeSystem

/// A link's bulk lane (docs/link-protocol.md §14): the guest's second
/// connection, which channels sending megabytes move to (`LanePolicy`), and
/// the host's side of it. The lane is a `LinkEndpoint` of its own whose
/// `laneOwner` is the link's main connection.
extension LinkEndpoint {
    /// Guest: opens `main`'s bulk lane on `socket`, a new connection to the
    /// host, with the token the host offered. Its queue is written by a
    /// thread of its own (`LinkWriter`); what it carries goes out as
    /// `main`'s channels move onto it (`sendUpdate`).
    /// `roomBelow`: its producers hear (`linkDidDrain`) when its queue falls to this.
    public static func attachLane(to main: LinkEndpoint, socket: OwnedFD, token: [UInt8], roomBelow: Int) throws(SystemError) {
        guard main.role == .guest, main.isOpen, main.lane == nil, main.laneOwner == nil else { return }
        let lane = try LinkEndpoint(socket: socket, role: .guest, name: "\(main.name) lane", loop: main.loop, limits: main.limits,
                                    features: 0, attachToken: token, delegate: nil)
        do { try lane.startWriter(roomBelow: roomBelow) } catch {
            lane.close(reason: "cannot start its writer: \(error)", notifyPeer: false)
            throw error
        }
        lane.laneOwner = main
        lane.isOpen = true
        lane.traceFrames = main.traceFrames
        main.lane = lane
    }

    /// Guest: whether `channel` moved to the bulk lane.
    public func isOnLane(_ channel: UInt32) -> Bool { lane != nil && laneChannels.contains(channel) }

    /// Where frames of `channel` go: the lane, once the channel moved there.
    func route(_ channel: UInt32?) -> LinkEndpoint {
        if let c = channel, let lane, laneChannels.contains(c) { return lane }
        return self
    }

    /// Host: offers the guest a bulk lane for this link, if both sides
    /// agreed on the feature: a new random token that only this link's
    /// guest is told, used once.
    public func offerLane() {
        guard role == .host, isOpen, !isClosed, laneOwner == nil, features & LinkFeatures.bulkLane != 0, offeredLaneToken == nil else { return }
        let token = RandomBytes.make(LinkProtocol.laneTokenBytes)
        offeredLaneToken = token
        send(.laneOffer(token: token))
    }

    /// Host: whether `token` is this link's offered lane token, which it
    /// then no longer is (one lane per link). Compared in constant time.
    public func takeLaneToken(_ token: [UInt8]) -> Bool {
        guard let offered = offeredLaneToken, isOpen, !isClosed, lane == nil, token.count == offered.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<offered.count { difference |= offered[i] ^ token[i] }
        guard difference == 0 else { return false }
        offeredLaneToken = nil
        return true
    }

    /// Host: this connection said `laneAttach` first: it becomes the lane
    /// of the link that offered the token, if any.
    func becomeLane(_ token: [UInt8]) throws(LinkProtocolError) {
        guard let owner = delegate?.link(self, attachesLane: token), owner !== self, owner.lane == nil else {
            throw .unexpected("laneAttach with a token no link offered")
        }
        laneOwner = owner
        owner.lane = self
        isOpen = true
        Log.info("\(owner.name): bulk lane attached (\(name))")
    }

    /// A frame read on a lane.
    func dispatchOnLane(_ frame: LinkFrame, owner: LinkEndpoint) throws(LinkProtocolError) {
        switch frame {
        case .closeLink(let code, let reason):
            close(reason: "peer closed the bulk lane (code \(code)): \(LogText.escaped(reason))", notifyPeer: false)
        case .hello(_, let peerRole, _) where role == .guest && !laneHelloSeen && peerRole != role:
            // The host greets every new connection before it knows it is a lane.
            laneHelloSeen = true
        default:
            guard role == .host, frame.channel != nil else { throw .unexpected("\(frame.traceLine) on the bulk lane") }
            try owner.delegate?.link(owner, receivedOnLane: frame)
        }
    }

    /// Host lane: the main connection handled a frame a waiting one may
    /// have waited for: look again.
    func laneMayGoOn() {
        guard laneWaiting, !isClosed else { return }
        laneWaiting = false
        watch()
        loop.defer_ { [weak self] in self?.processHeldFrames() }
    }
}
