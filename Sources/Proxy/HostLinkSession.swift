import Link
import PortholeSystem

/// One guest's link on the host: a connection to the compositor for each
/// channel the guest opens. Nothing here is shared with another guest's session.
final class HostLinkSession: LinkSessionDelegate {
    private unowned let proxy: HostProxy
    private(set) var session: LinkSession!
    private var connections: [ObjectIdentifier: WaylandConnection] = [:]
    /// What this guest is allowed, fixed when its link arrived.
    let policy: GuestPolicy

    init(proxy: HostProxy, socket: OwnedFD, name: String, policy: GuestPolicy) throws(SystemError) {
        self.proxy = proxy
        self.policy = policy
        session = try LinkSession(socket: socket, role: .host, name: name, loop: proxy.loop, limits: proxy.limits,
                                  counters: proxy.stats.link, hostRegion: proxy.region, delegate: self)
        session.link.traceFrames = proxy.trace
    }

    var link: LinkEndpoint { session.link }
    /// The guest's name, given by the host.
    var name: String { session.name }

    func sessionDidOpen(_ session: LinkSession) {
        Log.info("\(session.name): handshake done")
    }

    func session(_ session: LinkSession, opens channel: LinkChannel) throws(ChannelError) {
        let compositor: OwnedFD
        do { compositor = try Socket.connect(.unix(path: proxy.displayPath)) } catch {
            throw ChannelError("host compositor unavailable: \(error)")
        }
        let connection: WaylandConnection
        do {
            connection = try WaylandConnection(side: .host, socket: compositor, channel: channel, loop: proxy.loop, stats: proxy.stats,
                                               tables: proxy.tables, handler: HostHandler(region: session.hostRegion, policy: policy, guestName: session.name),
                                               tracer: proxy.trace ? MessageTracer() : nil)
        } catch {
            throw ChannelError("host proxy cannot open channel: \(error)")
        }
        connections[ObjectIdentifier(connection)] = connection
        connection.onClose = { [unowned self] c in self.connections.removeValue(forKey: ObjectIdentifier(c)) }
    }

    func sessionDidClose(_ session: LinkSession, reason: String) {
        Log.info("\(session.name): closed: \(reason)")
        proxy.sessionEnded(self, reason: reason)
    }
}
