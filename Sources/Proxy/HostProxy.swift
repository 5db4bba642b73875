import BufferService
import Link
import PortholeSystem
import Sharing
import Wayland

/// The host proxy: serves any number of links (guests); for each channel it
/// opens one connection to the host compositor.
public final class HostProxy {
    let loop: EventLoop
    let displayPath: String
    let tables: ProtocolTables
    let limits: LinkLimits
    /// What all guests together, and each guest's channels, may make it hold.
    let hostLimits: HostLimits
    /// The host-wide budgets each link's own draw on.
    let totals: HostTotals
    /// Memory shared with guests that map it too (`--region`).
    let region: SharedRegion?
    public let stats = ProxyStats()
    /// Prints every forwarded message (`--trace`).
    public var trace = false
    /// What each guest of this proxy is allowed (`--allow`, `--clipboard`, `--no-title-label`).
    public var policy = GuestPolicy()
    /// The name guests of this proxy are shown under (`--name`); a second
    /// guest connected at once gets "NAME-2", and so on. Guests choose nothing.
    public var guestName = "guest"
    /// Names and policies by peer identity (`--policy FILE`), first match
    /// wins; when set, a guest no rule matches is refused, and `guestName`
    /// and `policy` are not used.
    public var rules: [GuestRule] = []
    /// Register each guest under the compositor's wp_security_context_v1
    /// when it offers one (a short blocking exchange at a guest's first client).
    public var registersSecurityContexts = true
    private(set) var sessions: [ObjectIdentifier: HostLinkSession] = [:]
    private var listener: ConnectionListener?
    private var linkCounter = 0
    /// Serves guests' buffer producers and host consumers (`--buffers-socket`).
    /// Set before the first link.
    public var bufferService: BufferService? {
        didSet { if bufferService != nil { startPrefaulter() } }
    }
    /// Faults in the mirrors of views this host copies to guests' consumers
    /// ahead of their first copies, off the loop every guest shares; made
    /// with the buffer service (the only source of such views).
    private(set) var prefaulter: MirrorPrefaulter?
    /// Links closed at once because the host was at a limit.
    private(set) var refusedLinks = 0
    /// Called when a link ends (the CLI stops a --connect host then).
    public var onLinkClosed: ((String) -> Void)?
    /// Where guests' long update data is received off the loop (`--receive-threads`;
    /// nil or 0 threads: on the loop). Set before the first link.
    public var receiveThreads: ReceiveThreads?
    /// Offer guests a bulk lane (`--no-bulk-lane`: never). Set before the first link.
    public var bulkLanes = true

    /// How guests' dma-buf buffers reach the compositor, for the log at
    /// start. Always as wl_shm copies today: handing them on as dma-bufs
    /// would need a render node or /dev/udmabuf here (docs/gpu-buffers.md),
    /// and even then is not implemented.
    public static func dmabufPresentation(renderNode: Bool = DRMDevices.hasRenderNode(), udmabuf: Bool = DRMDevices.hasUdmabuf()) -> String {
        if !renderNode && !udmabuf {
            return "dma-buf buffers are presented as wl_shm copies: no render node / udmabuf on this host"
        }
        let found = [renderNode ? "a render node" : nil, udmabuf ? "/dev/udmabuf" : nil].compactMap { $0 }.joined(separator: " and ")
        return "dma-buf buffers are presented as wl_shm copies: this host has \(found), but handing them on as dma-bufs is not implemented"
    }

    public init(loop: EventLoop, displayPath: String, tables: ProtocolTables = .builtin, limits: LinkLimits = LinkLimits(),
                hostLimits: HostLimits = HostLimits(), region: SharedRegion? = nil) {
        self.loop = loop
        self.displayPath = displayPath
        self.tables = tables
        self.limits = limits
        self.hostLimits = hostLimits
        self.region = region
        let fds = hostLimits.totalFds ?? {
            let open = min(ProcessLimits.raiseOpenFileLimit(), HostLimits.fdCeiling)
            return max(0, open - openFileDescriptorCount())
        }()
        totals = HostTotals(fds: UInt64(fds), memory: hostLimits.totalMemory ?? ProcessLimits.physicalMemory() / 2,
                            fdReserve: UInt64(hostLimits.fdReserve))
    }

    private func startPrefaulter() {
        guard prefaulter == nil else { return }
        do {
            prefaulter = try MirrorPrefaulter(loop: loop, stats: stats)
        } catch {
            Log.warning("consumers' views fault in on the loop: \(error)")
        }
    }

    /// Accepts links on `address` until stopped.
    public func listen(on address: SocketAddress) throws(ProxyError) {
        do {
            listener = try ConnectionListener(socket: try Socket.listen(address), loop: loop) { [unowned self] fd in
                self.adopt(fd, from: "a guest connection")
            }
        } catch { throw .system(error) }
        Log.info("listening for guests on \(address)")
    }

    /// Connects one link to a guest listening at `address`.
    public func connect(to address: SocketAddress) throws(ProxyError) {
        do { adopt(try Socket.connect(address), from: "\(address)") } catch { throw .system(error) }
    }

    /// Serves a link on an already connected socket (tests, socket activation).
    public func serve(link socket: OwnedFD, from origin: String = "a connected socket") { adopt(socket, from: origin) }

    private func adopt(_ fd: OwnedFD, from origin: String) {
        linkCounter += 1
        let identity = PeerIdentity.of(fd)
        var base = guestName
        var guestPolicy = policy
        if !rules.isEmpty {
            guard let rule = rules.first(where: { $0.matches(identity) }) else {
                Log.warning("refusing a guest link from \(identity) (\(origin)): no rule of the policy file names it")
                fd.close()
                return
            }
            base = rule.name
            guestPolicy = rule.policy
        }
        if let refusal = admissionRefusal() {
            turnAway(fd, from: origin, refusal)
            return
        }
        // Named as it arrives (VMs connect in the order they were started;
        // a QEMU chardev connects long before its guest says hello). If it
        // turns out to be another guest's bulk lane, the name is free again.
        let name = uniqueGuestName(base)
        do {
            let session = try HostLinkSession(proxy: self, socket: fd, name: name, policy: guestPolicy, identity: identity)
            sessions[ObjectIdentifier(session)] = session
            Log.info("\(name): connected (\(origin), peer \(identity))")
        } catch {
            totals.fds.give(1)
            Log.error("\(name): cannot start link: \(error)")
        }
    }

    /// Why a new link cannot be served now, or nil (its socket is then counted).
    private func admissionRefusal() -> String? {
        // Each guest may also attach its bulk lane: twice as many
        // connections; `guestOpened` holds the guests themselves to the limit.
        guard sessions.count < 2 * hostLimits.maxGuests else {
            return "the host serves at most \(hostLimits.maxGuests) guests at once (and their bulk lanes)"
        }
        if let level = totals.fds.take(1, keepingFree: totals.reserve(for: .link)) {
            return "the host has no descriptors to spare (\(level.exhausted(asking: 1)))"
        }
        return nil
    }

    /// Tells a link the host cannot serve it why (a closeLink before any
    /// hello: the guest logs it and tries again later) and closes it.
    private func turnAway(_ fd: OwnedFD, from origin: String, _ reason: String) {
        refusedLinks += 1
        if refusedLinks == 1 || refusedLinks % 100 == 0 {
            Log.warning("turning away \(origin): \(reason) (\(refusedLinks) turned away so far)")
        }
        // Read the guest's hello first: closing with unread bytes resets the
        // connection, and the guest could lose the reason with them.
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<4 {
            guard case .bytes? = try? scratch.withUnsafeMutableBytes({ try StreamKind.read(fd, into: $0) }) else { break }
        }
        let bytes = FrameCodec.encode(.closeLink(code: LinkCloseCode.orderly.rawValue, reason: limits.reasonText(reason)))
        _ = try? bytes.withUnsafeBytes { try Socket.sendSome(fd, $0) }
        fd.close()
    }

    /// A connection said `laneAttach(token)`: the link that offered the
    /// token takes it as its bulk lane, if the connection comes from the
    /// same peer. Nil: no such link (the connection is then closed).
    func attachLane(_ token: [UInt8], from lane: HostLinkSession) -> LinkEndpoint? {
        guard let owner = sessions.values.first(where: { $0 !== lane && !$0.isLane && $0.link.takeLaneToken(token) }) else {
            Log.warning("\(lane.name): a bulk lane with a token no link offered; closing it")
            return nil
        }
        guard owner.identity == lane.identity else {
            Log.warning("\(lane.name): a bulk lane for \(owner.name) from \(lane.identity), not \(owner.identity); closing it")
            return nil
        }
        lane.isLane = true
        return owner.link
    }

    /// `base`, or with a number when a live guest already has it. The
    /// buffer service's name for the host's own programs is never a guest's.
    private func uniqueGuestName(_ base: String) -> String {
        let taken = Set(sessions.values.filter { !$0.isLane }.map(\.name)).union([BufferService.hostName])
        var name = base
        var n = 1
        while taken.contains(name) {
            n += 1
            name = "\(base)-\(n)"
        }
        return name
    }

    /// A guest's handshake is done: whether it is within `maxGuests` (it
    /// is turned away otherwise; connections still unidentified, or lanes,
    /// are not guests).
    func guestOpened(_ s: HostLinkSession) -> Bool {
        let open = sessions.values.filter { !$0.isLane && $0.link.isOpen }.count
        guard open > hostLimits.maxGuests else { return true }
        refusedLinks += 1
        Log.warning("\(s.name): turned away: the host serves at most \(hostLimits.maxGuests) guests at once")
        s.link.close(reason: "the host serves at most \(hostLimits.maxGuests) guests at once")
        return false
    }

    func sessionEnded(_ s: HostLinkSession, reason: String) {
        let l = s.link
        if l.closedByProtocolError { stats.linkErrors += 1 }
        stats.closedLinkSent += l.sentBytes
        stats.closedLinkReceived += l.receivedBytes
        sessions.removeValue(forKey: ObjectIdentifier(s))
        // The link's socket.
        totals.fds.give(1)
        onLinkClosed?(reason)
    }

    /// Links served now.
    public var guestsServed: Int { sessions.values.filter { !$0.isLane }.count }

    /// Descriptors and resource bytes counted against the host's totals for
    /// all guests (tests and the fuzzer check they go back to zero).
    public var heldForGuests: (fds: UInt64, bytes: UInt64) { (totals.fds.used, totals.memory.used) }

    /// The stats JSON, live links included.
    public func statsJSON() -> String {
        let links = sessions.values.map { $0.link }
        var extra: [(String, String)] = [("bulk_lanes", "\(sessions.values.filter(\.isLane).count)")]
        if let counters = bufferService?.counters {
            extra += [("shared_buffers", "\(counters.buffers)"), ("buffer_producers", "\(counters.producers)"),
                     ("buffer_consumers", "\(counters.consumers)"), ("buffer_presents", "\(counters.presents)"),
                     ("buffer_resets", "\(counters.resets)"), ("consumer_evictions", "\(counters.evictions)"),
                     ("region_copy_bytes", "\(counters.regionCopyBytes)"), ("buffer_references", "\(counters.references)")]
        }
        return stats.json(linkSent: links.reduce(0) { $0 + $1.sentBytes }, linkReceived: links.reduce(0) { $0 + $1.receivedBytes }, links: links.filter { $0.laneOwner == nil }.count,
                          guests: sessions.values.filter { !$0.isLane }.map(\.name).sorted(), extra: extra)
    }

    /// The guest names this proxy's configuration gives (`guestName` and
    /// the rules' names): buffer grants may name them before they connect.
    public var configuredGuestNames: Set<String> { rules.isEmpty ? [guestName] : Set(rules.map(\.name)) }

    /// Closes every link and the listener.
    public func shutdown() {
        for s in Array(sessions.values) { s.link.close(reason: "host proxy shutting down") }
        receiveThreads?.stop()
        bufferService?.shutdown()
        listener?.close()
    }
}
