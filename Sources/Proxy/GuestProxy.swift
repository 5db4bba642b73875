import Glibc
import Link
import PortholeSystem
import Sharing
import Wayland

/// The guest proxy: a Wayland socket that guest clients connect to as if it
/// were a compositor, and one link to the host proxy carrying every client
/// as its own channel.
///
/// When the link ends, every client gets a Wayland error. Then, with
/// `reconnect` (the default), the proxy keeps its Wayland socket and gets a
/// new link: with `connect(to:)` it dials again after a back-off (0.1 s,
/// doubling up to 5 s, back to 0.1 s once a handshake succeeds; the first
/// connection is retried the same way); with `listen(on:)` it accepts the
/// host's next connection. Clients that connect while there is no link get a
/// Wayland error and are closed. Without `reconnect`, `onLinkClosed` reports
/// the first link that ends or cannot be made.
public final class GuestProxy: LinkSessionDelegate {
    let loop: EventLoop
    let tables: ProtocolTables
    let limits: LinkLimits
    public let stats = ProxyStats()
    /// The shared region, when the guest maps one (`--region`).
    let region: GuestRegion?
    /// Path of the Wayland socket clients connect to.
    public let socketPath: String
    /// The current link, while there is one.
    private var session: LinkSession?
    private var link: LinkEndpoint? { session?.link }
    private var linkListener: ConnectionListener?
    private var waylandListener: ConnectionListener?
    /// Where buffer producers connect (`--buffers-socket`); nil: no producers.
    /// Set before the first link.
    public var bufferSocketPath: String?
    private var producerListener: ConnectionListener?
    /// Where buffer consumers in the guest connect (`--consumers-socket`);
    /// nil: none. Set before the first link.
    public var consumerSocketPath: String?
    /// A sharing region this guest maps with other guests (`--shared-region`):
    /// producers allocate there, and views of buffers in it are read in place.
    public var commonRegion: SharedRegion?
    private var consumerListener: ConnectionListener?
    /// One per client, while its channel is open.
    private var connections: [ObjectIdentifier: WaylandConnection] = [:]
    /// Prints every forwarded message (`--trace`).
    public var trace = false
    /// Offer zwp_linux_dmabuf_v1 to clients: nil (the default) when the
    /// machine has a DRM device when a client connects (a guest without one
    /// has no client that makes dma-bufs, and GPU clients that see the
    /// global would look for a device) and none is a virtio-gpu rendering
    /// with virgl (whose buffers the copy would show stale); true or false
    /// always.
    public var offerDmabuf: Bool?
    /// Where `connect(to:)` dials, while it keeps dialling.
    private var dialAddress: SocketAddress?
    private var pendingConnect: PendingConnect?
    private var retryTimer: EventLoop.Token?
    private var retryDelay: Double
    private var readyReported = false
    /// The last reason logged for retrying; the same again is logged quietly.
    private var lastRetryReason: String?
    private var stopped = false
    /// Called once, when the first link is up and the Wayland socket accepts clients.
    public var onReady: (() -> Void)?
    /// Called when the proxy gives up: the link ended or could not be made and
    /// `reconnect` is off, or the Wayland socket could not be opened.
    public var onLinkClosed: ((String) -> Void)?
    /// Get a new link when the link ends (see the type's description).
    public var reconnect = true
    /// First and longest wait between connection attempts, in seconds.
    public var retryDelays: (first: Double, max: Double) = (0.1, 5) {
        didSet { retryDelay = retryDelays.first }
    }
    /// How long one connection attempt may take, in seconds; the handshake
    /// that follows gets as long again.
    public var connectTimeout: Double = Socket.connectTimeout
    private var handshakeTimer: EventLoop.Token?
    /// Large region copies, and the syncs of a stream window on the bulk
    /// lane, run on a thread of their own (`SyncOffload`); false: on the
    /// loop, in slices. Set before the first link.
    public var copyThread = true
    /// With a region on a machine of two CPUs or more, a second thread takes
    /// a share of each large region copy (`CopyHelper`); false: the copy
    /// thread alone. Set before the first link.
    public var copyHelper = true
    /// The worker for those syncs, made with the Wayland socket.
    private(set) var copyOffload: SyncOffload?
    /// Faults stream windows' mirrors in ahead of their first copies, on a
    /// thread of its own (with `copyThread`), made with the Wayland socket.
    private(set) var prefaulter: MirrorPrefaulter?
    /// Open a bulk lane when the host offers one (`--no-bulk-lane`: never):
    /// a second connection to the host proxy that the channels sending
    /// megabytes move to, written by a thread of its own, so that a video's
    /// bytes are neither on this loop nor ahead of another window's commit
    /// (docs/link-protocol.md §14). Only for links this proxy dials over
    /// unix or vsock sockets. Set before the first link.
    public var bulkLane = true
    /// How a lane connection is made (tests); nil: dial the link's address.
    public var laneDialer: (() throws(SystemError) -> OwnedFD)?
    private var pendingLane: PendingConnect?

    public init(loop: EventLoop, socketPath: String, tables: ProtocolTables = .builtin, limits: LinkLimits = LinkLimits(),
                region: SharedRegion? = nil) {
        self.loop = loop
        self.socketPath = socketPath
        self.tables = tables
        self.limits = limits
        retryDelay = 0.1
        if let region { self.region = GuestRegion(region: region, counters: stats.link) } else { self.region = nil }
    }

    /// The socket path for `name` in $XDG_RUNTIME_DIR (or `name` itself if absolute).
    public static func socketPath(name: String) throws(ProxyError) -> String {
        if name.hasPrefix("/") { return name }
        guard let dir = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !dir.isEmpty else {
            throw .configuration("XDG_RUNTIME_DIR is not set")
        }
        return dir + "/" + name
    }

    /// Connects the link to a host proxy at `address`, without blocking: the
    /// attempt runs on the loop (see `reconnect` for what happens on failure).
    public func connect(to address: SocketAddress) throws(ProxyError) {
        guard address.canConnect else { throw .configuration("cannot connect to \(address): CID 'any' is for listening") }
        dialAddress = address
        dial()
    }

    /// Waits for the host proxy to connect to `address`. With `reconnect`,
    /// it goes on listening: after a link ends, the next host connection
    /// becomes the new link. A connection while a link is up is refused.
    public func listen(on address: SocketAddress) throws(ProxyError) {
        do {
            linkListener = try ConnectionListener(socket: try Socket.listen(address), loop: loop) { [unowned self] s in
                self.acceptLink(s, address)
            }
            Log.info("waiting for the host proxy on \(address)")
        } catch { throw .system(error) }
    }

    /// Serves a link on an already connected socket (tests: a host proxy on
    /// the same loop at the other end of a socket pair). With `reconnect`,
    /// the proxy waits for another call when this link ends.
    public func serve(link socket: OwnedFD, name: String) throws(ProxyError) {
        guard link == nil else { throw .configuration("a link is up already") }
        try start(link: socket, name: name)
    }

    private func acceptLink(_ s: OwnedFD, _ address: SocketAddress) {
        if link != nil {
            Log.warning("refusing a second host connection on \(address): a link is up")
            s.close()
            return
        }
        if !reconnect {
            linkListener?.close()
            linkListener = nil
        }
        do { try start(link: s, name: "link \(address)") } catch {
            Log.error("cannot start link: \(error)")
            linkDown("cannot start the link: \(error)")
        }
    }

    private func dial() {
        guard let address = dialAddress, !stopped, link == nil, pendingConnect == nil else { return }
        pendingConnect = PendingConnect(to: address, loop: loop, timeout: connectTimeout) { [unowned self] result in
            self.pendingConnect = nil
            switch result {
            case .success(let fd):
                do { try self.start(link: fd, name: "link \(address)") } catch {
                    self.linkDown("cannot start the link: \(error)")
                }
            case .failure(let error):
                self.linkDown("cannot connect to the host proxy: \(error)")
            }
        }
    }

    /// There is no link (it ended, or could not be made): give up or try again.
    private func linkDown(_ reason: String) {
        guard !stopped else { return }
        guard reconnect else {
            onLinkClosed?(reason)
            return
        }
        guard dialAddress != nil else {
            Log.info("waiting for the host proxy to connect again")
            return
        }
        let delay = retryDelay
        retryDelay = min(retryDelay * 2, retryDelays.max)
        if reason == lastRetryReason {
            Log.debug("\(reason); trying again in \(delay) s")
        } else {
            Log.warning("\(reason); trying again in \(delay) s")
            lastRetryReason = reason
        }
        do {
            retryTimer = try loop.addTimer(nanoseconds: UInt64(delay * 1e9), repeating: false) { [unowned self] in
                self.retryTimer = nil
                self.dial()
            }
        } catch {
            onLinkClosed?("cannot schedule a reconnection: \(error)")
        }
    }

    private func start(link socket: OwnedFD, name: String) throws(ProxyError) {
        let newSession: LinkSession
        do {
            newSession = try LinkSession(socket: socket, role: .guest, name: name, loop: loop, limits: limits, counters: stats.link,
                                         guestRegion: region, bufferService: bufferSocketPath != nil,
                                         bufferConsumers: consumerSocketPath != nil, bulkLane: bulkLane && canDialLane, delegate: self)
        } catch {
            throw .system(error)
        }
        session = newSession
        if let common = commonRegion { newSession.channels.commonRegion = (UInt64(common.size), common.fd) }
        let newLink = newSession.link!
        newLink.traceFrames = trace
        // A peer (or a device) that never says hello must not hold the guest.
        let timeout = connectTimeout
        handshakeTimer = try? loop.addTimer(nanoseconds: UInt64(timeout * 1e9), repeating: false) { [unowned self, weak newLink] in
            self.handshakeTimer = nil
            guard let l = newLink, !l.isOpen, !l.isClosed else { return }
            l.close(reason: "no hello from the host proxy within \(timeout == timeout.rounded() ? "\(Int(timeout))" : "\(timeout)") s")
        }
    }

    private func cancelHandshakeTimer() {
        if let t = handshakeTimer { loop.unregister(t) }
        handshakeTimer = nil
    }

    private func openWaylandSocket() throws(SystemError) {
        let fd = try Socket.listen(.unix(path: socketPath))
        try FileSystem.setMode(socketPath, 0o700)
        waylandListener = try ConnectionListener(socket: fd, loop: loop) { [unowned self] client in self.acceptClient(client) }
        // The copy thread starts with the socket, not with the first client:
        // what the proxy holds with no client connected stays the same.
        _ = startCopyThread()
        _ = startPrefaulter()
        Log.info("guest clients can connect to \(socketPath)")
    }

    /// The worker for this proxy's large syncs, started with the Wayland
    /// socket; nil without `copyThread`, without a region or a bulk lane to
    /// use it for, or if no thread can start (the syncs then run on the
    /// loop, in slices).
    private func startCopyThread() -> SyncOffload? {
        guard copyThread, region != nil || bulkLane else { return nil }
        if let copyOffload { return copyOffload }
        do {
            let worker = try BackgroundWorker(loop: loop, name: "porthole-copy")
            copyOffload = SyncOffload(worker: worker, helper: startCopyHelper())
        } catch {
            Log.warning("large syncs stay on the loop: \(error)")
            copyThread = false
        }
        return copyOffload
    }

    /// The mirror prefaulter's thread, started with the Wayland socket;
    /// nil without `copyThread` or if the thread cannot start (the first
    /// copies into a mirror then fault its pages in on the loop).
    private func startPrefaulter() -> MirrorPrefaulter? {
        guard copyThread else { return nil }
        if let prefaulter { return prefaulter }
        do {
            prefaulter = try MirrorPrefaulter(loop: loop, stats: stats)
        } catch {
            Log.warning("mirrors fault in on the loop: \(error)")
        }
        return prefaulter
    }

    /// The copy thread's helper: only region copies use it, and only where
    /// a second CPU can run it.
    private func startCopyHelper() -> CopyHelper? {
        guard copyHelper, region != nil, CopyHelper.isWorthwhile else { return nil }
        do { return try CopyHelper() } catch {
            Log.warning("region copies use one thread: \(error)")
            return nil
        }
    }

    private func acceptClient(_ client: OwnedFD) {
        guard let session, session.link.isOpen else { refuse(client); return }
        let application = Socket.peerProgramName(client) ?? "unknown"
        let device = DRMDevices.firstDevice()
        let offer = offerDmabuf ?? (device != nil && !DRMDevices.hasVirglDevice())
        let handler = GuestHandler(region: region, stats: stats, application: application, dmabufDevice: offer ? device ?? 0 : nil,
                                   offload: startCopyThread(), prefaulter: startPrefaulter())
        guard let channel = session.channels.open() else {
            Log.warning("refusing a client: \(limits.maxChannels) clients already connected")
            client.close()
            return
        }
        guard let connection = serve(client, on: channel, handler: handler, as: "client") else { return }
        Log.debug("client \(LogText.escaped(application, limit: 64)) connected as \(connection.name)")
    }

    /// Joins `client` to `channel` with `handler`, and keeps the connection
    /// until it closes. Nil (the channel closed) when it cannot.
    private func serve(_ client: OwnedFD, on channel: LinkChannel, handler: ConnectionHandler, as what: String) -> WaylandConnection? {
        let connection: WaylandConnection
        do {
            connection = try WaylandConnection(side: .guest, socket: client, channel: channel, loop: loop, stats: stats, tables: tables,
                                               handler: handler, tracer: trace ? MessageTracer() : nil)
        } catch {
            Log.error("cannot serve a \(what): \(error)")
            channel.close(reason: "guest proxy cannot serve the \(what): \(error)")
            return nil
        }
        connections[ObjectIdentifier(connection)] = connection
        connection.onClose = { [unowned self] c in self.connections.removeValue(forKey: ObjectIdentifier(c)) }
        return connection
    }

    /// Producers and consumers get their sockets with the first link; one
    /// that cannot be opened costs them, not the Wayland clients.
    private func openBufferSockets() {
        if let path = bufferSocketPath, producerListener == nil {
            producerListener = listenForBuffers(at: path, "producers") { [unowned self] client in self.acceptProducer(client) }
        }
        if let path = consumerSocketPath, consumerListener == nil {
            consumerListener = listenForBuffers(at: path, "consumers") { [unowned self] client in self.acceptConsumer(client) }
        }
    }

    private func listenForBuffers(at path: String, _ who: String, accept: @escaping (OwnedFD) -> Void) -> ConnectionListener? {
        do {
            let fd = try Socket.listen(.unix(path: path))
            try FileSystem.setMode(path, 0o700)
            let listener = try ConnectionListener(socket: fd, loop: loop, onConnection: accept)
            Log.info("buffer \(who) can connect to \(path)")
            return listener
        } catch {
            Log.warning("no buffer \(who): cannot listen on \(path): \(error)")
            return nil
        }
    }

    /// Each consumer becomes a buffer-consumer channel of the link.
    private func acceptConsumer(_ client: OwnedFD) {
        guard let channel = openChannel(for: client, service: .bufferConsumer, who: "buffer consumer",
                                        unserved: "the host proxy serves no buffer consumers in guests") else { return }
        _ = serve(client, on: channel, handler: GuestConsumerHandler(), as: "buffer consumer")
    }

    /// Each producer becomes a buffer-service channel of the link.
    private func acceptProducer(_ client: OwnedFD) {
        guard let channel = openChannel(for: client, service: .bufferService, who: "buffer producer",
                                        unserved: "the host proxy serves no buffer producers") else { return }
        let application = Socket.peerProgramName(client) ?? "unknown"
        guard let connection = serve(client, on: channel, handler: GuestProducerHandler(stats: stats, region: region, common: commonRegion, prefaulter: startPrefaulter()),
                                     as: "buffer producer") else { return }
        Log.debug("buffer producer \(LogText.escaped(application, limit: 64)) connected as \(connection.name)")
    }

    /// A channel of `service` for a buffer client, or nil after refusing it
    /// (no link, a host without that service, or no channel left).
    private func openChannel(for client: OwnedFD, service: ChannelService, who: String, unserved: String) -> LinkChannel? {
        guard let session, session.link.isOpen else { refuse(client); return nil }
        guard session.channels.supports(service) else {
            refuse(client, because: "porthole: \(unserved) (no buffer service on this link)")
            return nil
        }
        guard let channel = session.channels.open(service: service) else {
            Log.warning("refusing a \(who): \(limits.maxChannels) channels already open")
            client.close()
            return nil
        }
        return channel
    }

    /// Tells a client that cannot be served why (a wl_display.error), then
    /// closes it: by default, one that arrived while there is no link.
    private func refuse(_ client: OwnedFD, because reason: String = "porthole: no link to the host proxy right now (reconnecting); try again later") {
        Log.warning("refusing a client: \(reason)")
        let error = MessageFault.implementation(reason).errorEvent
        _ = try? error.withUnsafeBytes { b throws(SystemError) in try Socket.send(client, b, fds: []) }
        // Read what the client already sent, so that closing does not reset
        // the connection before it reads the error.
        var scratch = [UInt8](repeating: 0, count: 4096)
        var fds: [OwnedFD] = []
        for _ in 0..<16 {
            let r = try? scratch.withUnsafeMutableBytes { b throws(SystemError) in try Socket.receive(client, into: b, fds: &fds) }
            guard case .bytes = r else { break }
            fds.removeAll()
        }
        client.close()
    }

    /// The stats JSON.
    public func statsJSON() -> String {
        stats.json(linkSent: (link?.sentBytes ?? 0) + (link?.laneSentBytes ?? 0), linkReceived: link?.receivedBytes ?? 0, links: link?.isOpen == true ? 1 : 0,
                   extra: [("bulk_lanes", link?.lane != nil ? "1" : "0")])
    }

    /// Closes every client, the link and the socket; stops reconnecting.
    public func shutdown() {
        stopped = true
        pendingConnect?.cancel()
        pendingConnect = nil
        if let t = retryTimer { loop.unregister(t) }
        retryTimer = nil
        cancelHandshakeTimer()
        linkListener?.close()
        for c in Array(connections.values) { c.close(reason: "guest proxy shutting down") }
        link?.close(reason: "guest proxy shutting down")
        waylandListener?.close()
        FileSystem.remove(socketPath)
        if producerListener != nil, let path = bufferSocketPath { FileSystem.remove(path) }
        producerListener?.close()
        producerListener = nil
        if consumerListener != nil, let path = consumerSocketPath { FileSystem.remove(path) }
        consumerListener?.close()
        consumerListener = nil
    }

    // MARK: LinkSessionDelegate

    public func sessionDidOpen(_ session: LinkSession) {
        Log.info("\(session.name): connected to the host proxy")
        cancelHandshakeTimer()
        retryDelay = retryDelays.first
        lastRetryReason = nil
        if waylandListener == nil {
            do { try openWaylandSocket() } catch {
                Log.error("cannot listen on \(socketPath): \(error)")
                reconnect = false
                session.link.close(reason: "guest cannot open its Wayland socket")
                return
            }
        }
        openBufferSockets()
        if !readyReported {
            readyReported = true
            onReady?()
        }
    }

    /// Whether a lane can be dialled: a test's dialer, or a unix or vsock address this proxy dials.
    private var canDialLane: Bool {
        if laneDialer != nil { return true }
        switch dialAddress {
        case .unix?, .vsock?, .vsockMux?: return true
        default: return false
        }
    }

    public func session(_ session: LinkSession, offersLane token: [UInt8]) {
        guard bulkLane, pendingLane == nil, session.link.lane == nil else { return }
        let attach = { [weak session] (fd: OwnedFD) in
            guard let link = session?.link, link.isOpen else { return }
            do { try LinkEndpoint.attachLane(to: link, socket: fd, token: token, roomBelow: SyncTuning.laneQueueLimit) } catch {
                Log.warning("\(link.name): no bulk lane: \(error)")
            }
        }
        if let laneDialer {
            do { attach(try laneDialer()) } catch { Log.warning("\(session.name): no bulk lane: \(error)") }
            return
        }
        guard let address = dialAddress else { return }
        pendingLane = PendingConnect(to: address, loop: loop, timeout: connectTimeout) { [unowned self] result in
            self.pendingLane = nil
            switch result {
            case .success(let fd): attach(fd)
            case .failure(let error): Log.warning("\(session.name): no bulk lane: cannot connect: \(error)")
            }
        }
    }

    public func sessionDidClose(_ session: LinkSession, reason: String) {
        let link = session.link!
        Log.warning("\(link.name): closed: \(reason)")
        if link.closedByProtocolError { stats.linkErrors += 1 }
        stats.closedLinkSent += link.sentBytes + link.laneSentBytes
        stats.closedLinkReceived += link.receivedBytes
        if self.session === session {
            self.session = nil
            cancelHandshakeTimer()
        }
        linkDown("the link to the host closed: \(reason)")
    }
}
