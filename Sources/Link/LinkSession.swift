import PortholeSystem
import Sharing

/// Everything one link carries, apart from Wayland: the endpoint (handshake,
/// framing, queue), its channels, and the shared-region agreement with the
/// buffer registry (docs/link-protocol.md §4-7 and §11). Proxies see open,
/// close and channels; every frame is read and checked here.
public final class LinkSession: LinkEndpointDelegate, ChannelSetDelegate {
    public private(set) var link: LinkEndpoint!
    public private(set) var channels: ChannelSet!
    /// Guest: the proxy's shared region, agreed anew on each link.
    public let guestRegion: GuestRegion?
    /// Host: this guest's use of the host's shared region.
    public let hostRegion: HostRegionSession?
    public weak var delegate: LinkSessionDelegate?

    /// Starts the handshake on `socket`. A guest passes its `GuestRegion`;
    /// a host its `SharedRegion`, if any, and the totals over all its
    /// guests that this link's budgets draw on. `bufferService`: this side
    /// offers buffer-service channels (a guest with a producer socket, a
    /// host with a buffer service); `bufferConsumers`: buffer-consumer
    /// channels (a guest with a consumer socket, a host with a buffer service).
    public init(socket: OwnedFD, role: LinkRole, name: String, loop: EventLoop, limits: LinkLimits, counters: LinkCounters,
                guestRegion: GuestRegion? = nil, hostRegion: SharedRegion? = nil, bufferService: Bool = false, bufferConsumers: Bool = false,
                bulkLane: Bool = false, totals: HostTotals? = nil,
                delegate: LinkSessionDelegate) throws(SystemError) {
        self.guestRegion = role == .guest ? guestRegion : nil
        self.hostRegion = role == .host ? hostRegion.map { HostRegionSession(region: $0, counters: counters, limits: limits.registry) } : nil
        self.delegate = delegate
        let offersRegion = self.guestRegion != nil || self.hostRegion != nil
        link = try LinkEndpoint(socket: socket, role: role, name: name, loop: loop, limits: limits,
                                features: (offersRegion ? LinkFeatures.sharedRegion : 0) | (bufferService ? LinkFeatures.bufferService : 0)
                                    | (bufferConsumers ? LinkFeatures.bufferConsumers : 0) | (bulkLane ? LinkFeatures.bulkLane : 0),
                                delegate: self)
        channels = ChannelSet(link: link, loop: loop, counters: counters, totals: role == .host ? totals : nil)
        channels.delegate = self
    }

    public var name: String { link.name }

    // MARK: LinkEndpointDelegate

    public func linkDidOpen(_ link: LinkEndpoint) {
        guestRegion?.linkOpened(link)
        hostRegion?.linkOpened(link)
        delegate?.sessionDidOpen(self)
    }

    public func link(_ link: LinkEndpoint, received frame: LinkFrame) throws(LinkProtocolError) {
        switch frame {
        case .regionInfo, .bufferRegister, .bufferUnregister, .registryReset:
            try receiveRegionFrame(frame)
        default:
            try channels.receive(frame)
        }
    }

    public func link(_ link: LinkEndpoint, updateTargetFor channel: UInt32, resource: UInt32,
                     ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget? {
        try channels.updateTarget(channel: channel, resource: resource, ranges: ranges)
    }

    public func linkDidDrain(_ link: LinkEndpoint) { channels.linkDrained() }

    public func link(_ link: LinkEndpoint, offersLane token: [UInt8]) {
        delegate?.session(self, offersLane: token)
    }

    public func link(_ lane: LinkEndpoint, attachesLane token: [UInt8]) -> LinkEndpoint? {
        delegate?.session(self, attachesLane: token)
    }

    public func link(_ link: LinkEndpoint, laneFrameReady channel: UInt32) -> Bool { channels.laneFrameReady(channel) }

    public func link(_ link: LinkEndpoint, receivedOnLane frame: LinkFrame) throws(LinkProtocolError) {
        try channels.receive(frame, onLane: true)
    }

    public func link(_ link: LinkEndpoint, laneUpdateTargetFor channel: UInt32, resource: UInt32,
                     ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget? {
        try channels.updateTarget(channel: channel, resource: resource, ranges: ranges, onLane: true)
    }

    public func linkDidClose(_ link: LinkEndpoint, reason: String) {
        channels.linkClosed(reason: reason)
        channels.sharedRegion = nil
        guestRegion?.linkClosed()
        hostRegion?.linkClosed()
        delegate?.sessionDidClose(self, reason: reason)
    }

    private func receiveRegionFrame(_ frame: LinkFrame) throws(LinkProtocolError) {
        if link.role == .guest {
            guard case .regionInfo(let size, let tag) = frame else {
                throw .unexpected("buffer registry frames go from the guest to the host")
            }
            guard let guestRegion else { throw .unexpected("regionInfo, but this guest has no region") }
            try guestRegion.hostInfo(size: size, tag: tag)
            return
        }
        guard let hostRegion else { throw .unexpected("shared-region frame, but this host has no region") }
        try hostRegion.receive(frame, link: link)
        if hostRegion.active && channels.sharedRegion == nil {
            channels.sharedRegion = (UInt64(hostRegion.region.size), hostRegion.region.fd)
        }
    }

    // MARK: ChannelSetDelegate

    public func channelSet(_ set: ChannelSet, opens channel: LinkChannel) throws(ChannelError) {
        guard let delegate else { throw ChannelError("the proxy is shutting down") }
        try delegate.session(self, opens: channel)
    }
}
