import Glibc
import Link
import PortholeSystem
import Sharing
import Wayland

/// Where the host compositor listens.
public enum DisplayAddress {
    /// Resolves `--display` (a socket name in $XDG_RUNTIME_DIR or an absolute
    /// path) or, when nil, $WAYLAND_DISPLAY.
    public static func resolve(_ display: String?) throws(ProxyError) -> String {
        guard let name = display ?? getenv("WAYLAND_DISPLAY").map({ String(cString: $0) }), !name.isEmpty else {
            throw .configuration("no host display: pass --display or set WAYLAND_DISPLAY")
        }
        if name.hasPrefix("/") { return name }
        guard let dir = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !dir.isEmpty else {
            throw .configuration("XDG_RUNTIME_DIR is not set; cannot find display '\(name)'")
        }
        return dir + "/" + name
    }
}

/// Errors that stop a proxy from starting or running.
public enum ProxyError: Error, CustomStringConvertible {
    case configuration(String)
    case system(SystemError)
    case linkFailed(String)

    public var description: String {
        switch self {
        case .configuration(let s): return s
        case .system(let e): return e.description
        case .linkFailed(let s): return "link failed: \(s)"
        }
    }
}

/// The host proxy: serves any number of links (guests); for each channel it
/// opens one connection to the host compositor.
public final class HostProxy {
    let loop: EventLoop
    let displayPath: String
    let tables: ProtocolTables
    let limits: LinkLimits
    /// Memory shared with guests that map it too (`--region`).
    let region: SharedRegion?
    public let stats = ProxyStats()
    private var sessions: [ObjectIdentifier: HostLinkSession] = [:]
    private var listener: OwnedFD?
    private var listenerToken: EventLoop.Token?
    private var linkCounter = 0
    /// Called when a link ends (the CLI stops a --connect host then).
    public var onLinkClosed: ((String) -> Void)?

    public init(loop: EventLoop, displayPath: String, tables: ProtocolTables = .builtin, limits: LinkLimits = LinkLimits(),
                region: SharedRegion? = nil) {
        self.loop = loop
        self.displayPath = displayPath
        self.tables = tables
        self.limits = limits
        self.region = region
    }

    /// Accepts links on `address` until stopped.
    public func listen(on address: SocketAddress) throws(ProxyError) {
        do {
            let fd = try Socket.listen(address)
            listener = fd
            listenerToken = try loop.register(fd.rawValue, events: .readable) { [unowned self] _ in self.acceptLinks() }
        } catch { throw .system(error) }
        Log.info("listening for guests on \(address)")
    }

    /// Connects one link to a guest listening at `address`.
    public func connect(to address: SocketAddress) throws(ProxyError) {
        do { adopt(try Socket.connect(address), name: "\(address)") } catch { throw .system(error) }
    }

    private func acceptLinks() {
        while let listener, let fd = try? Socket.accept(listener) {
            adopt(fd, name: "guest link \(linkCounter + 1)")
        }
    }

    private func adopt(_ fd: OwnedFD, name: String) {
        linkCounter += 1
        let session = HostLinkSession(proxy: self)
        do {
            session.link = try LinkEndpoint(socket: fd, role: .host, name: name, loop: loop, limits: limits,
                                            features: region != nil ? LinkFeatures.sharedRegion : 0, delegate: session)
            sessions[ObjectIdentifier(session)] = session
            Log.info("\(name): connected")
        } catch {
            Log.error("\(name): cannot start link: \(error)")
        }
    }

    func sessionEnded(_ s: HostLinkSession, reason: String) {
        if let l = s.link {
            if l.closedByProtocolError { stats.linkErrors += 1 }
            stats.closedLinkSent += l.sentBytes
            stats.closedLinkReceived += l.receivedBytes
        }
        sessions.removeValue(forKey: ObjectIdentifier(s))
        onLinkClosed?(reason)
    }

    /// The stats JSON, live links included.
    public func statsJSON() -> String {
        let links = sessions.values.compactMap { $0.link }
        return stats.json(linkSent: links.reduce(0) { $0 + $1.sentBytes }, linkReceived: links.reduce(0) { $0 + $1.receivedBytes }, links: links.count)
    }

    /// Closes every link and the listener.
    public func shutdown() {
        for s in Array(sessions.values) { s.link?.close(reason: "host proxy shutting down") }
        if let t = listenerToken { loop.unregister(t) }
        listener?.close()
    }
}

/// One guest's link on the host: its channels and its resource budget.
/// Nothing here is shared with another guest's session.
final class HostLinkSession: LinkEndpointDelegate, ChannelOwner {
    unowned let proxy: HostProxy
    var link: LinkEndpoint?
    private let channels: ChannelTable<HostChannel>
    /// This guest's use of the shared region (nil when the host has none).
    let hostRegion: HostRegionSession?

    init(proxy: HostProxy) {
        self.proxy = proxy
        channels = ChannelTable(limits: proxy.limits)
        hostRegion = proxy.region.map { HostRegionSession(region: $0, stats: proxy.stats) }
    }

    var stats: ProxyStats { proxy.stats }
    func reserveResourceBytes(_ n: UInt64) -> Bool { channels.reserve(n) }
    func releaseResourceBytes(_ n: UInt64) { channels.release(n) }
    func channelDidClose(_ channel: ChannelEndpoint, awaitingAck: Bool) { channels.removed(channel, awaitingAck: awaitingAck) }

    func linkDidOpen(_ link: LinkEndpoint) {
        Log.info("\(link.name): handshake done")
        hostRegion?.linkOpened(link)
    }

    func link(_ link: LinkEndpoint, received frame: LinkFrame) throws(LinkProtocolError) {
        switch frame {
        case .channelOpen(let c, let bufAlloc):
            guard c != 0 else { throw .malformed(.channelOpen, "channel 0") }
            guard !channels.isTaken(c) else { throw .channelInUse(c) }
            guard channels.count < link.limits.maxChannels else { throw .tooManyChannels(link.limits.maxChannels) }
            let compositor: OwnedFD
            do { compositor = try Socket.connect(.unix(path: proxy.displayPath)) } catch {
                Log.warning("\(link.name): channel \(c): cannot reach the compositor: \(error)")
                link.send(.channelClose(channel: c, code: 3, reason: "host compositor unavailable: \(error)"))
                channels.awaitAck(c)
                return
            }
            do {
                let ch = try HostChannel(id: c, compositor: compositor, link: link, loop: proxy.loop, owner: self, tables: proxy.tables)
                channels.add(ch)
                link.send(.channelAccept(channel: c, bufAlloc: ch.credit.bufAlloc))
                ch.establish(peerBufAlloc: bufAlloc)
            } catch {
                link.send(.channelClose(channel: c, code: 3, reason: "host proxy cannot open channel: \(error)"))
                channels.awaitAck(c)
            }
        case .channelAccept:
            throw .unexpected("the host does not open channels")
        case .regionInfo, .bufferRegister, .bufferUnregister, .registryReset:
            guard let hostRegion else { throw .unexpected("shared-region frame, but this host has no region") }
            try hostRegion.receive(frame, link: link)
        default:
            try channels.target(of: frame)?.receive(frame)
        }
    }

    func link(_ link: LinkEndpoint, updateTargetFor channel: UInt32, resource: UInt32,
              ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget? {
        try channels.target(channel: channel)?.updateTarget(resource: resource, ranges: ranges)
    }

    func linkDidDrain(_ link: LinkEndpoint) {
        for ch in channels.all { ch.linkDrained() }
    }

    func linkDidClose(_ link: LinkEndpoint, reason: String) {
        Log.info("\(link.name): closed: \(reason)")
        for ch in channels.all { ch.closeChannel(reason: "link closed", notifyPeer: false) }
        hostRegion?.linkClosed()
        proxy.sessionEnded(self, reason: reason)
    }
}
