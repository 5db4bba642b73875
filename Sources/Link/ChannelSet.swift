import PortholeSystem

/// The channels of one link (docs/link-protocol.md §5): who opens them (on
/// a host, no faster than the link's rate), routing of channel frames, ids
/// closed by this side and not yet acknowledged (frames for them are
/// dropped, not errors; a peer leaving too many ends the link), and the
/// link's budgets for descriptors and resource memory. A new link gets a new set.
public final class ChannelSet {
    public let link: LinkEndpoint
    let loop: EventLoop
    public let counters: LinkCounters
    public weak var delegate: ChannelSetDelegate?
    /// The shared region's size and fd, once both sides agreed on it (host).
    public var sharedRegion: (size: UInt64, fd: OwnedFD)?
    /// Guest: the sharing region of several guests it maps (`--shared-region`),
    /// which host resources of kind `commonRegion` stand for.
    public var commonRegion: (size: UInt64, fd: OwnedFD)?
    private var channels: [UInt32: LinkChannel] = [:]
    private var closing: Set<UInt32> = []
    private var nextChannel: UInt32 = 1
    /// Descriptors held for the peer: its resources' memfds and pipes and,
    /// on a host, its channels' compositor connections. Within the link's
    /// `maxFds` and the host's total.
    public let fds: Budget
    /// Bytes of the peer's memory resources, within the link's
    /// `maxTotalResourceBytes` and the host's total.
    public let memory: Budget
    /// The host's totals the budgets draw on (none on a guest).
    public let totals: HostTotals?
    private var opens: RateLimit
    private var refusedOpens = 0

    public init(link: LinkEndpoint, loop: EventLoop, counters: LinkCounters, totals: HostTotals? = nil) {
        self.link = link
        self.loop = loop
        self.counters = counters
        self.totals = totals
        let peer = link.role == .host ? "this guest" : "the host"
        fds = Budget("file descriptors held for \(peer)", limit: UInt64(max(link.limits.maxFds, 0)), parent: totals?.fds)
        memory = Budget("resource memory held for \(peer)", limit: link.limits.maxTotalResourceBytes, parent: totals?.memory)
        opens = RateLimit(perSecond: link.limits.channelOpensPerSecond, burst: link.limits.channelOpenBurst)
    }

    public var count: Int { channels.count }
    public var all: [LinkChannel] { Array(channels.values) }
    public subscript(id: UInt32) -> LinkChannel? { channels[id] }
    /// Peer memory held by this link's resources, in bytes.
    public var heldResourceBytes: UInt64 { memory.used }

    /// Descriptors a use leaves free of the host's total (none on a guest).
    public func fdReserve(for use: HostTotals.FdUse) -> UInt64 { totals?.reserve(for: use) ?? 0 }

    /// Guest: opens a channel for a new client of `service` (its user sets
    /// the delegate before returning to the loop). Nil when the link already
    /// has as many channels as the peer accepts, or the link did not agree
    /// on the service (`supports(_:)`).
    public func open(service: ChannelService = .compositor) -> LinkChannel? {
        guard link.role == .guest, supports(service), channels.count < link.limits.maxChannels else { return nil }
        var id = nextChannel
        while isTaken(id) || id == 0 { id &+= 1 }
        nextChannel = id &+ 1
        let channel = LinkChannel(id: id, link: link, set: self, service: service)
        channels[id] = channel
        link.send(.channelOpen(channel: id, bufAlloc: channel.credit.bufAlloc, service: service))
        return channel
    }

    /// Whether channels of `service` may be opened on this link: the
    /// compositor always, the buffer service's producers and consumers
    /// once both sides offered them.
    public func supports(_ service: ChannelService) -> Bool {
        switch service {
        case .compositor: return true
        case .bufferService: return link.features & LinkFeatures.bufferService != 0
        case .bufferConsumer: return link.features & LinkFeatures.bufferConsumers != 0
        }
    }

    /// Whether `id` may not be (re)used: open, or closed and unacknowledged.
    private func isTaken(_ id: UInt32) -> Bool { channels[id] != nil || closing.contains(id) }

    /// Handles a channel-scoped frame, read on the link's main connection
    /// or (`onLane`, host) on its bulk lane. Throwing ends the link.
    public func receive(_ frame: LinkFrame, onLane: Bool = false) throws(LinkProtocolError) {
        switch frame {
        case .channelOpen(let c, let bufAlloc, let service):
            guard !onLane else { throw .unexpected("channelOpen on the bulk lane") }
            try accept(c, peerBufAlloc: bufAlloc, service: service)
        case .laneMove(let c):
            guard link.role == .host, !onLane else { throw .unexpected("laneMove(channel \(c)) from the host or on the lane") }
            guard link.features & LinkFeatures.bulkLane != 0 else { throw .unexpected("laneMove on a link without the bulk lane") }
            guard let ch = try target(c, frame) else { return }
            guard !ch.onLane else { throw .unexpected("channel \(c) moved to the bulk lane twice") }
            ch.onLane = true
        case .channelAccept(let c, let bufAlloc):
            guard link.role == .guest else { throw .unexpected("the host does not open channels") }
            guard let ch = try target(c, frame) else { return }
            guard !ch.isEstablished else { throw .unexpected("channel \(c) accepted twice") }
            ch.establish(peerBufAlloc: bufAlloc)
        default:
            guard let c = frame.channel else { throw .unexpected("frame without a channel: \(frame.traceLine)") }
            guard let ch = try target(c, frame) else { return }
            try checkConnection(ch, onLane: onLane)
            try ch.receive(frame)
        }
    }

    /// Host: a moved channel's frames come on the lane only, and the others' on the main connection only.
    private func checkConnection(_ ch: LinkChannel, onLane: Bool) throws(LinkProtocolError) {
        guard link.role == .host, ch.onLane != onLane else { return }
        throw .unexpected(onLane ? "a frame of channel \(ch.id) on the bulk lane before its laneMove"
                                 : "a frame of channel \(ch.id) on the main connection after it moved to the bulk lane")
    }

    /// Host: whether a lane frame of channel `c` may be handled now (see
    /// `LinkEndpointDelegate.link(_:laneFrameReady:)`). An id never opened
    /// waits too: its open may still be unread on the main connection.
    public func laneFrameReady(_ c: UInt32) -> Bool {
        if let ch = channels[c] { return ch.onLane }
        return closing.contains(c)
    }

    /// Host: the guest opens channel `c`.
    private func accept(_ c: UInt32, peerBufAlloc: UInt32, service: ChannelService) throws(LinkProtocolError) {
        guard link.role == .host else { throw .unexpected("the guest opens channels, not the host") }
        guard c != 0 else { throw .malformed(.channelOpen, "channel 0") }
        guard supports(service) else { throw .unexpected("channel \(c) asks for the \(service), which this link did not agree on") }
        guard !isTaken(c) else { throw .channelInUse(c) }
        guard channels.count < link.limits.maxChannels else { throw .tooManyChannels(link.limits.maxChannels) }
        // Each refusal below waits for its acknowledgement: a guest that
        // never sends one would grow this set with every open.
        guard closing.count < link.limits.maxUnacknowledgedCloses else {
            throw .unexpected("channel \(c) opened with \(closing.count) channel closes left unacknowledged")
        }
        let channel = LinkChannel(id: c, link: link, set: self, service: service)
        do throws(ChannelError) {
            // Each open costs a compositor connection: a guest opening and
            // closing channels as fast as the link carries them would keep
            // the compositor busy for everyone.
            guard opens.admit(now: MonotonicClock.nanoseconds()) else {
                throw ChannelError("channels are opened faster than \(link.limits.channelOpensPerSecond) a second (\(link.limits.channelOpenBurst) at once)")
            }
            guard let delegate else { throw ChannelError("no one serves channels on this link") }
            try delegate.channelSet(self, opens: channel)
        } catch {
            refusedOpens += 1
            // A flood of refusals is logged at 1, 10, 100, ... so it cannot flood the log.
            if isPowerOfTen(refusedOpens) {
                Log.warning("\(link.name): channel \(c) refused: \(error)\(refusedOpens > 1 ? " (\(refusedOpens) refused so far)" : "")")
            }
            link.send(.channelClose(channel: c, code: ChannelCloseCode.unavailable.rawValue,
                                    reason: link.limits.reasonText(error.reason)))
            closing.insert(c)
            return
        }
        channels[c] = channel
        link.send(.channelAccept(channel: c, bufAlloc: channel.credit.bufAlloc))
        channel.establish(peerBufAlloc: peerBufAlloc)
    }

    /// The open channel `c`, or nil when the frame is for a channel being
    /// closed (and is dropped). Unknown channels are a link error.
    private func target(_ c: UInt32, _ frame: LinkFrame) throws(LinkProtocolError) -> LinkChannel? {
        if let ch = channels[c] { return ch }
        guard closing.contains(c) else { throw .unknownChannel(c) }
        if case .channelClose = frame { closing.remove(c) }
        return nil
    }

    /// Where a `resourceUpdate`'s data goes (see `LinkEndpointDelegate`).
    public func updateTarget(channel c: UInt32, resource: UInt32, ranges: [UpdateRange], onLane: Bool = false) throws(LinkProtocolError) -> UpdateTarget? {
        if let ch = channels[c] {
            try checkConnection(ch, onLane: onLane)
            return try ch.updateTarget(resource: resource, ranges: ranges)
        }
        guard closing.contains(c) else { throw .unknownChannel(c) }
        return nil
    }

    /// The link's queue drained: paused producers may go on.
    public func linkDrained() {
        for ch in all { ch.resumeProducers() }
    }

    /// The link ended: every channel ends, with no frames sent, and
    /// whatever the link still held goes back to the host's totals.
    public func linkClosed(reason: String) {
        for ch in all { ch.linkClosed(reason: reason) }
        closing.removeAll()
        if fds.used > 0 || memory.used > 0 {
            Log.debug("\(link.name): \(fds) and \(memory) still counted at close; given back")
            fds.give(fds.used)
            memory.give(memory.used)
        }
    }

    /// A channel closed itself.
    func channelClosed(_ channel: LinkChannel, awaitingAck: Bool) {
        guard channels[channel.id] === channel else { return }
        channels.removeValue(forKey: channel.id)
        if awaitingAck { closing.insert(channel.id) }
    }
}

/// 1, 10, 100, ...
private func isPowerOfTen(_ n: Int) -> Bool {
    var v = n
    while v >= 10 && v % 10 == 0 { v /= 10 }
    return v == 1
}
