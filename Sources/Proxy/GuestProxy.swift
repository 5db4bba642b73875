import Glibc
import Link
import PortholeSystem
import Wayland

/// The guest proxy: a Wayland socket that guest clients connect to as if it
/// were a compositor, and one link to the host proxy carrying every client
/// as its own channel.
public final class GuestProxy: LinkEndpointDelegate, ChannelOwner {
    let loop: EventLoop
    let tables: ProtocolTables
    let limits: LinkLimits
    public let stats = ProxyStats()
    /// Path of the Wayland socket clients connect to.
    public let socketPath: String
    private var link: LinkEndpoint?
    private var linkListener: OwnedFD?
    private var linkListenerToken: EventLoop.Token?
    private var waylandListener: OwnedFD?
    private var waylandToken: EventLoop.Token?
    private let channels: ChannelTable<GuestChannel>
    private var nextChannel: UInt32 = 1
    /// Called once the link is up and the Wayland socket accepts clients.
    public var onReady: (() -> Void)?
    /// Called when the link ends; the proxy cannot serve clients after it.
    public var onLinkClosed: ((String) -> Void)?

    public init(loop: EventLoop, socketPath: String, tables: ProtocolTables = .builtin, limits: LinkLimits = LinkLimits()) {
        self.loop = loop
        self.socketPath = socketPath
        self.tables = tables
        self.limits = limits
        channels = ChannelTable(limits: limits)
    }

    /// The socket path for `name` in $XDG_RUNTIME_DIR (or `name` itself if absolute).
    public static func socketPath(name: String) throws(ProxyError) -> String {
        if name.hasPrefix("/") { return name }
        guard let dir = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !dir.isEmpty else {
            throw .configuration("XDG_RUNTIME_DIR is not set")
        }
        return dir + "/" + name
    }

    /// Connects the link to a host proxy listening at `address`.
    public func connect(to address: SocketAddress) throws(ProxyError) {
        do { try start(link: try Socket.connect(address), name: "link \(address)") } catch let e as ProxyError { throw e } catch {
            throw .system(error as! SystemError)
        }
    }

    /// Waits for the host proxy to connect to `address`.
    public func listen(on address: SocketAddress) throws(ProxyError) {
        do {
            let fd = try Socket.listen(address)
            linkListener = fd
            linkListenerToken = try loop.register(fd.rawValue, events: .readable) { [unowned self] _ in
                guard self.link == nil, let l = self.linkListener, let s = try? Socket.accept(l) else { return }
                if let t = self.linkListenerToken { self.loop.unregister(t) }
                self.linkListener?.close()
                do { try self.start(link: s, name: "link \(address)") } catch {
                    Log.error("cannot start link: \(error)")
                    self.onLinkClosed?("\(error)")
                }
            }
            Log.info("waiting for the host proxy on \(address)")
        } catch { throw .system(error) }
    }

    private func start(link socket: OwnedFD, name: String) throws(ProxyError) {
        do { link = try LinkEndpoint(socket: socket, role: .guest, name: name, loop: loop, limits: limits, delegate: self) } catch {
            throw .system(error)
        }
    }

    private func openWaylandSocket() throws(SystemError) {
        let fd = try Socket.listen(.unix(path: socketPath))
        chmod(socketPath, 0o700)
        waylandListener = fd
        waylandToken = try loop.register(fd.rawValue, events: .readable) { [unowned self] _ in self.acceptClients() }
        Log.info("guest clients can connect to \(socketPath)")
    }

    private func acceptClients() {
        while let l = waylandListener, let client = try? Socket.accept(l) {
            guard let link, link.isOpen else { client.close(); continue }
            guard channels.count < limits.maxChannels else {
                Log.warning("refusing a client: \(limits.maxChannels) clients already connected")
                client.close()
                continue
            }
            var id = nextChannel
            while channels.isTaken(id) || id == 0 { id &+= 1 }
            nextChannel = id &+ 1
            do {
                let ch = try GuestChannel(id: id, client: client, link: link, loop: loop, owner: self, tables: tables)
                channels.add(ch)
                link.send(.channelOpen(channel: id, bufAlloc: ch.credit.bufAlloc))
                Log.debug("client connected as channel \(id)")
            } catch {
                Log.error("cannot serve a client: \(error)")
            }
        }
    }

    /// The stats JSON.
    public func statsJSON() -> String {
        stats.json(linkSent: link?.sentBytes ?? 0, linkReceived: link?.receivedBytes ?? 0, links: link?.isOpen == true ? 1 : 0)
    }

    /// Closes every client, the link and the socket.
    public func shutdown() {
        for ch in channels.all { ch.closeChannel(reason: "guest proxy shutting down", notifyPeer: true) }
        link?.close(reason: "guest proxy shutting down")
        if let t = waylandToken { loop.unregister(t) }
        waylandListener?.close()
        unlink(socketPath)
    }

    // MARK: ChannelOwner

    func reserveResourceBytes(_ n: UInt64) -> Bool { channels.reserve(n) }
    func releaseResourceBytes(_ n: UInt64) { channels.release(n) }
    func channelDidClose(_ channel: ChannelEndpoint, awaitingAck: Bool) { channels.removed(channel, awaitingAck: awaitingAck) }

    // MARK: LinkEndpointDelegate

    public func linkDidOpen(_ link: LinkEndpoint) {
        Log.info("\(link.name): connected to the host proxy")
        do { try openWaylandSocket() } catch {
            Log.error("cannot listen on \(socketPath): \(error)")
            link.close(reason: "guest cannot open its Wayland socket")
            return
        }
        onReady?()
    }

    public func link(_ link: LinkEndpoint, received frame: LinkFrame) throws(LinkProtocolError) {
        switch frame {
        case .channelAccept(let c, let bufAlloc):
            guard let ch = try channels.target(of: frame) else { return }
            guard !ch.established else { throw .unexpected("channel \(c) accepted twice") }
            ch.establish(peerBufAlloc: bufAlloc)
        case .channelOpen:
            throw .unexpected("the guest opens channels, not the host")
        default:
            try channels.target(of: frame)?.receive(frame)
        }
    }

    public func linkDidDrain(_ link: LinkEndpoint) {
        for ch in channels.all { ch.linkDrained() }
    }

    public func linkDidClose(_ link: LinkEndpoint, reason: String) {
        Log.warning("\(link.name): closed: \(reason)")
        if link.closedByProtocolError { stats.linkErrors += 1 }
        stats.closedLinkSent += link.sentBytes
        stats.closedLinkReceived += link.receivedBytes
        for ch in channels.all {
            ch.sendToSocket(MessageFault.implementation("the link to the host closed: \(reason)").errorEvent)
            ch.closeChannel(reason: "link closed", notifyPeer: false)
        }
        onLinkClosed?(reason)
    }
}
