import BufferService
import Glibc
import Link
import PortholeSystem
import Sharing

/// One guest's link on the host: a connection to the compositor for each
/// channel the guest opens, or to the buffer service for a producer's
/// channel. Nothing here is shared with another guest's session.
final class HostLinkSession: LinkSessionDelegate {
    private unowned let proxy: HostProxy
    private(set) var session: LinkSession!
    private var connections: [ObjectIdentifier: WaylandConnection] = [:]
    /// What this guest is allowed, fixed when its link arrived.
    let policy: GuestPolicy
    /// The compositor's security context for this guest, once registered.
    private var securityContext: SecurityContext?
    private var securityContextTried = false
    /// Wayland objects of all this guest's channels.
    let objects: Budget

    /// Who the connection came from (a lane must come from its link's peer).
    let identity: PeerIdentity
    /// This connection became another link's bulk lane: it is no guest of its own.
    var isLane = false

    init(proxy: HostProxy, socket: OwnedFD, name: String, policy: GuestPolicy, identity: PeerIdentity) throws(SystemError) {
        self.proxy = proxy
        self.policy = policy
        self.identity = identity
        self.objects = Budget("Wayland objects of this guest", limit: UInt64(proxy.hostLimits.objectsPerGuest))
        session = try LinkSession(socket: socket, role: .host, name: name, loop: proxy.loop, limits: proxy.limits,
                                  counters: proxy.stats.link, hostRegion: proxy.region, bufferService: proxy.bufferService != nil,
                                  bufferConsumers: proxy.bufferService != nil, bulkLane: proxy.bulkLanes,
                                  totals: proxy.totals, delegate: self)
        session.link.traceFrames = proxy.trace
        session.link.receiveThreads = proxy.receiveThreads
    }

    var link: LinkEndpoint { session.link }
    /// The guest's name, given by the host.
    var name: String { session.name }

    func sessionDidOpen(_ session: LinkSession) {
        guard proxy.guestOpened(self) else { return }
        Log.info("\(session.name): handshake done")
        // When both sides agreed on the bulk lane.
        session.link.offerLane()
        guard let service = proxy.bufferService else { return }
        service.guestConnected(session.name)
        // The guest proxy's region buffers are an application of the service.
        if let region = session.hostRegion {
            let guest = session.name
            region.onChange = { [weak service, unowned region] change in service?.regionChanged(change, guest: guest, region: region.region) }
        }
    }

    func session(_ session: LinkSession, opens channel: LinkChannel) throws(ChannelError) {
        switch channel.service {
        case .compositor: try openCompositorChannel(channel)
        case .bufferService: try openProducerChannel(channel)
        case .bufferConsumer: try openConsumerChannel(channel)
        }
    }

    private func openCompositorChannel(_ channel: LinkChannel) throws(ChannelError) {
        // The compositor connection is the guest's descriptor; it may dip
        // into half the host's reserve, which resources never touch.
        let fds = session.channels.fds
        if let level = fds.take(1, keepingFree: session.channels.fdReserve(for: .compositorConnection)) {
            throw ChannelError("no room for a compositor connection: \(level.exhausted(asking: 1))")
        }
        let compositor: OwnedFD
        do { compositor = try Socket.connect(.unix(path: compositorPath())) } catch {
            fds.give(1)
            throw ChannelError("host compositor unavailable: \(error)")
        }
        let connection: WaylandConnection
        do {
            let budget = Budget("Wayland objects on this channel", limit: UInt64(proxy.hostLimits.objectsPerChannel), parent: objects)
            connection = try WaylandConnection(side: .host, socket: compositor, channel: channel, loop: proxy.loop, stats: proxy.stats,
                                               tables: proxy.tables, handler: HostHandler(region: session.hostRegion, policy: policy, guestName: session.name,
                                                                    onRegionCommit: regionCommits()),
                                               tracer: proxy.trace ? MessageTracer() : nil, objectBudget: budget)
        } catch {
            fds.give(1)
            throw ChannelError("host proxy cannot open channel: \(error)")
        }
        connections[ObjectIdentifier(connection)] = connection
        connection.onClose = { [unowned self] c in
            self.connections.removeValue(forKey: ObjectIdentifier(c))
            fds.give(1)
        }
    }

    /// Where this guest's compositor connections go: through its security
    /// context where the compositor offers them (registered at the first
    /// channel), else the display itself.
    private func compositorPath() -> String {
        if !securityContextTried && proxy.registersSecurityContexts {
            securityContextTried = true
            let dir = proxy.displayPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            let instance = "\(getpid())-\(ObjectIdentifier(self).hashValue & 0xFFFF_FFFF)"
            do {
                securityContext = try SecurityContext.register(displayPath: proxy.displayPath, guest: name, instance: instance,
                                                               socketPath: "\(dir)/porthole-\(name)-\(getpid()).sock", tables: proxy.tables)
                if let c = securityContext { Log.info("\(name): registered with the compositor's security context (engine porthole, app id \(name)) at \(c.socketPath)") }
            } catch {
                Log.warning("\(name): \(error); its clients connect to the compositor without one")
            }
        }
        return securityContext?.socketPath ?? proxy.displayPath
    }

    /// A producer's channel: a socket pair whose other end the buffer
    /// service serves on this loop, instead of a compositor connection.
    /// What a compositor channel tells the buffer service of its region
    /// wl_buffers' commits (nil without a region or a service).
    private func regionCommits() -> ((UInt32, [Int32]) -> Void)? {
        guard let service = proxy.bufferService, session.hostRegion != nil else { return nil }
        let guest = session.name
        return { [weak service] registration, damage in service?.regionBufferCommitted(registration, damage: damage, guest: guest) }
    }

    private func openProducerChannel(_ channel: LinkChannel) throws(ChannelError) {
        guard let service = proxy.bufferService else { throw ChannelError("this host has no buffer service") }
        // Both ends of the pair are the guest's descriptors, as a compositor connection is.
        let fds = session.channels.fds
        if let level = fds.take(2, keepingFree: session.channels.fdReserve(for: .compositorConnection)) {
            throw ChannelError("no room for a producer's channel: \(level.exhausted(asking: 2))")
        }
        let ends: (OwnedFD, OwnedFD)
        do { ends = try Socket.pair() } catch {
            fds.give(2)
            throw ChannelError("host proxy cannot open channel: \(error)")
        }
        let producer: ProducerSession
        let connection: WaylandConnection
        do {
            producer = try service.serveProducer(socket: ends.1, guest: session.name, name: "\(channel.name) (producer)")
            let budget = Budget("Wayland objects on this channel", limit: UInt64(proxy.hostLimits.objectsPerChannel), parent: objects)
            connection = try WaylandConnection(side: .host, socket: ends.0, channel: channel, loop: proxy.loop, stats: proxy.stats,
                                               tables: proxy.tables, handler: HostProducerHandler(), tracer: proxy.trace ? MessageTracer() : nil,
                                               objectBudget: budget)
        } catch {
            fds.give(2)
            throw ChannelError("host proxy cannot open channel: \(error)")
        }
        connections[ObjectIdentifier(connection)] = connection
        connection.onClose = { [unowned self] c in
            // The service resets the producer now, before anything else
            // (such as the guest's disconnect) reaches consumers.
            producer.end()
            self.connections.removeValue(forKey: ObjectIdentifier(c))
            fds.give(2)
        }
    }

    /// A consumer's channel: a socket pair whose other end the buffer
    /// service serves as a consumer of this guest, which sees only what the
    /// host lets this guest see.
    private func openConsumerChannel(_ channel: LinkChannel) throws(ChannelError) {
        guard let service = proxy.bufferService else { throw ChannelError("this host has no buffer service") }
        let fds = session.channels.fds
        if let level = fds.take(2, keepingFree: session.channels.fdReserve(for: .compositorConnection)) {
            throw ChannelError("no room for a consumer's channel: \(level.exhausted(asking: 2))")
        }
        let ends: (OwnedFD, OwnedFD)
        do { ends = try Socket.pair() } catch {
            fds.give(2)
            throw ChannelError("host proxy cannot open channel: \(error)")
        }
        let connection: WaylandConnection
        do {
            // Past the service's limits it closes its end at once, and this channel follows.
            try service.serveConsumer(socket: ends.1, guest: session.name)
            let budget = Budget("Wayland objects on this channel", limit: UInt64(proxy.hostLimits.objectsPerChannel), parent: objects)
            connection = try WaylandConnection(side: .host, socket: ends.0, channel: channel, loop: proxy.loop, stats: proxy.stats,
                                               tables: proxy.tables, handler: HostConsumerHandler(stats: proxy.stats, guest: session.name,
                                                                                            commonRegions: commonRegions(of: service),
                                                                                            prefaulter: proxy.prefaulter),
                                               tracer: proxy.trace ? MessageTracer() : nil, objectBudget: budget)
        } catch {
            fds.give(2)
            throw ChannelError("host proxy cannot open channel: \(error)")
        }
        connections[ObjectIdentifier(connection)] = connection
        connection.onClose = { [unowned self] c in
            self.connections.removeValue(forKey: ObjectIdentifier(c))
            fds.give(2)
        }
    }

    /// The sharing regions of several guests the host declared for this one.
    private func commonRegions(of service: BufferService) -> [SharedRegion] {
        service.commonRegions.filter { $0.guests.contains(session.name) }.map(\.region)
    }

    func sessionDidClose(_ session: LinkSession, reason: String) {
        securityContext?.end()
        securityContext = nil
        Log.info("\(session.name): closed: \(reason)")
        if !isLane { proxy.bufferService?.guestDisconnected(session.name) }
        proxy.sessionEnded(self, reason: reason)
    }

    func session(_ session: LinkSession, attachesLane token: [UInt8]) -> LinkEndpoint? {
        proxy.attachLane(token, from: self)
    }
}
