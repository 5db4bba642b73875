import Glibc
import PortholeSystem
import Wayland

/// The host's buffer-sharing service (docs/buffer-sharing.md): producers of
/// every guest register buffers through their link channels; consumers on
/// the host subscribe by application (and guest) on the consumer socket and
/// get each buffer as a sealed memfd, each update as an event they release.
/// It runs on the host proxy's event loop and knows nothing of the link:
/// the proxy hands it one socket per producer and tells it which guests
/// come and go. Programs of the host may publish too (`listenProducers`,
/// under the name `hostName`), and consumers in guests, reached through
/// their links, see what the host's policy lets them (`BufferService+Guests`).
public final class BufferService {
    let loop: EventLoop
    let tables: ProtocolTables
    public let limits: BufferServiceLimits
    /// Path of the consumer socket, once listening.
    public private(set) var socketPath: String?
    public internal(set) var counters = BufferServiceCounters()

    private var listener: OwnedFD?
    private var listenerToken: EventLoop.Token?
    private(set) var consumers: [ObjectIdentifier: ConsumerSession] = [:]
    private var producers: [ObjectIdentifier: ProducerSession] = [:]
    /// The host's own producers' socket (`listenProducers`).
    var producerListener: ConnectionListener?
    /// Where the host's own producers connect, once listening.
    public internal(set) var producerSocketPath: String?
    /// What host programs publish that guests' consumers may see (`--buffers-to-guest`).
    public var guestAccess: [GuestBufferAccess] = []
    /// Guest names the host's configuration gives (grants may name them before they connect).
    public var configuredGuests: Set<String> = []
    /// Sharing regions of several guests (`--shared-region`).
    public var commonRegions: [CommonRegion] = []
    var buffers: [UInt32: SharedBuffer] = [:]
    /// Connected guests and what their producers hold.
    private var guests: [String: GuestUsage] = [:]
    /// What each application of each guest holds.
    private var applications: [ApplicationKey: ApplicationUsage] = [:]
    /// Each guest's region, opened read-only, and the buffers registered in
    /// it by registry id (`BufferService+WaylandProxy`).
    var regionFiles: [String: OwnedFD] = [:]
    var regionBuffers: [String: [UInt32: UInt32]] = [:]
    /// Each guest's registrations made for producers' `allocate`, by registry id.
    var regionClaims: [String: [UInt32: RegionClaim]] = [:]
    /// Users (SO_PEERCRED) whose consumers get a region buffer as the
    /// guest's region itself, read-only, at the buffer's offset (zero copy;
    /// they can read every buffer of that guest). Other consumers get a
    /// copy of each region buffer (`RegionCopy`). `porthole host
    /// --buffers-region-consumers`; by default the host's own user.
    public var regionConsumers: Set<UInt32> = [getuid()]
    /// Live references by handle (`BufferService+References`).
    var references: [[UInt8]: BufferReference] = [:]
    private var lastBufferID: UInt32 = 0
    private(set) var generation: UInt32 = 0
    private var consumerCount = 0
    var localProducerCount = 0
    private var evictionTimer: EventLoop.Token?

    public init(loop: EventLoop, tables: ProtocolTables = .builtin, limits: BufferServiceLimits = BufferServiceLimits()) {
        self.loop = loop
        self.tables = tables
        self.limits = limits
    }

    // MARK: Consumers' socket

    /// Serves consumers on a unix socket at `path`, mode 0700: only this
    /// user's programs may connect (the first layer of the trust model).
    public func listen(path: String) throws(SystemError) {
        let fd = try Socket.listen(.unix(path: path))
        try FileSystem.setMode(path, 0o700)
        listener = fd
        listenerToken = try loop.register(fd.rawValue, events: .readable) { [unowned self] _ in self.acceptConsumers() }
        socketPath = path
        Log.info("buffer consumers can connect to \(path)")
    }

    private func acceptConsumers() {
        while let l = listener, let fd = try? Socket.accept(l) {
            do { try serveConsumer(socket: fd) } catch { Log.warning("buffer service: cannot serve a consumer: \(error)") }
        }
    }

    /// Serves one consumer on a connected socket: a program of the host,
    /// or, with `guest`, a consumer in that guest reached through its link
    /// (the host proxy's end of a socket pair), which sees only what the
    /// host lets that guest see.
    public func serveConsumer(socket: OwnedFD, guest: String? = nil) throws(SystemError) {
        guard consumers.count < limits.consumers else {
            Log.warning("buffer service: refusing a consumer: \(limits.consumers) connected already")
            socket.close()
            return
        }
        if let guest, !admitsConsumer(of: guest) {
            socket.close()
            return
        }
        consumerCount += 1
        weak var session: ConsumerSession?
        let connection = try ServiceConnection(
            name: guest.map { "consumer \(consumerCount) of guest \($0)" } ?? "consumer \(consumerCount)", socket: socket, loop: loop,
            tables: tables, global: "porthole_buffer_consumer_v1",
            maxQueuedBytes: limits.consumerQueueBytes, maxQueuedFds: 0) { [weak self] queued in
                self?.counters.evictions += 1
                return MessageFault(objectID: session?.consumerObjects.min() ?? Wire.displayID,
                             code: session?.consumerObjects.isEmpty == false ? ConsumerErrorCode.tooSlow.rawValue : DisplayErrorCode.implementation.rawValue,
                             message: "evicted: \(queued) bytes of events left unread")
            }
        // A guest's consumer is never given a region: its copies cross the link.
        var trusted = false
        if guest == nil, case .unix(let uid) = PeerIdentity.of(socket) { trusted = regionConsumers.contains(uid) }
        let consumer = ConsumerSession(connection: connection, service: self, trustedWithRegions: trusted, guest: guest)
        session = consumer
        consumers[ObjectIdentifier(consumer)] = consumer
        counters.consumers = consumers.count
        armEvictionTimer()
    }

    // MARK: Guests and producers (the host proxy's side)

    /// A guest's link is open under `name`.
    public func guestConnected(_ name: String) {
        guard guests[name] == nil else { return }
        guests[name] = GuestUsage()
        let event = PortholeBufferSubscriptionV1GuestConnected(guest: Array(name.utf8))
        for c in consumers.values where c.mayHear(of: name) {
            for (id, f) in c.subscriptions where f.matches(guest: name) { c.send(event, toSubscription: id) }
        }
    }

    /// A guest's link ended (its producers have ended first).
    public func guestDisconnected(_ name: String) {
        for p in Array(producers.values) where p.guest == name && !p.isHost { p.end() }
        for c in Array(consumers.values) where c.guest == name { c.connection.close(reason: "its guest's link ended") }
        regionChanged(.reset, guest: name, region: nil)
        guard guests.removeValue(forKey: name) != nil else { return }
        let event = PortholeBufferSubscriptionV1GuestDisconnected(guest: Array(name.utf8))
        for c in consumers.values where c.mayHear(of: name) {
            for (id, f) in c.subscriptions where f.matches(guest: name) { c.send(event, toSubscription: id) }
        }
    }

    /// Serves one producer of guest `guest` on `socket` (the host proxy's
    /// end of the socket pair joined to the producer's channel). Call
    /// `end()` on the result when the channel closes.
    /// `isHost`: a program of the host instead (`serveLocalProducer`).
    public func serveProducer(socket: OwnedFD, guest: String, name: String, isHost: Bool = false) throws(SystemError) -> ProducerSession {
        if guests[guest] == nil { guestConnected(guest) }
        let connection = try ServiceConnection(
            name: name, socket: socket, loop: loop, tables: tables, global: "porthole_buffer_producer_v1",
            maxQueuedBytes: limits.producerQueueBytes, maxQueuedFds: limits.queuedFds) { queued in
                .implementation("\(queued) bytes of events left unread")
            }
        let producer = ProducerSession(guest: guest, connection: connection, service: self, isHost: isHost)
        producers[ObjectIdentifier(producer)] = producer
        counters.producers += 1
        return producer
    }

    /// Stops listening and closes every connection.
    public func shutdown() {
        if let t = listenerToken { loop.unregister(t) }
        listenerToken = nil
        listener?.close()
        listener = nil
        if let path = socketPath { FileSystem.remove(path) }
        producerListener?.close()
        producerListener = nil
        if let path = producerSocketPath { FileSystem.remove(path) }
        for p in Array(producers.values) { p.end() }
        for c in Array(consumers.values) { c.connection.close(reason: "the host proxy is shutting down") }
        if let t = evictionTimer { loop.unregister(t) }
        evictionTimer = nil
    }

    // MARK: From producers

    func usage(of guest: String) -> GuestUsage { guests[guest] ?? GuestUsage() }

    func isConnected(_ guest: String) -> Bool { guests[guest] != nil }

    func usage(of guest: String, application: String) -> ApplicationUsage {
        applications[ApplicationKey(guest: guest, application: application)] ?? ApplicationUsage()
    }

    /// A property was added to producer buffer `b`.
    func propertyAdded(to b: SharedBuffer) {
        applications[ApplicationKey(guest: b.guest, application: b.application), default: ApplicationUsage()].properties += 1
    }

    func nextBufferID() -> UInt32 {
        lastBufferID += 1
        return lastBufferID
    }

    func registered(_ b: SharedBuffer) {
        buffers[b.id] = b
        if b.counted {
            guests[b.guest, default: GuestUsage()].buffers += 1
            guests[b.guest, default: GuestUsage()].bytes += b.fileSize
            let key = ApplicationKey(guest: b.guest, application: b.application)
            applications[key, default: ApplicationUsage()].buffers.insert(b.id)
            applications[key, default: ApplicationUsage()].bytes += b.fileSize
        }
        counters.buffers = buffers.count
    }

    func publish(_ b: SharedBuffer) {
        for c in Array(consumers.values) {
            guard c.maySee(b),
                  let (id, _) = c.subscriptions.sorted(by: { $0.key < $1.key }).first(where: { $0.value.matches(guest: b.guest, application: b.application) })
            else { continue }
            c.add(b, through: id)
        }
    }

    func present(_ b: SharedBuffer, sequence: UInt32, damage: PendingDamage, renderUsec: UInt32) {
        counters.presents += 1
        if let copy = b.copy {
            // The one host copy of a region buffer: its damage, for the untrusted.
            let spans = b.image?.spans(of: damage.rects) ?? [(0, Int(b.size))]
            counters.regionCopyBytes += UInt64(copy.copy(from: b.file, at: UInt64(b.offset), spans: spans))
        }
        let now = MonotonicClock.nanoseconds()
        let bytes = damage.wireBytes
        var holders: Set<ObjectIdentifier> = []
        var tooMany: [ConsumerSession] = []
        for view in Array(b.views.values) where !view.consumer.isClosed {
            view.consumer.updated(view, sequence: sequence, damage: bytes, renderUsec: renderUsec, now: now)
            // Sending may have found the consumer not reading, and closed it.
            guard !view.consumer.isClosed else { continue }
            holders.insert(ObjectIdentifier(view))
            if view.consumer.pendingCount > limits.pendingUpdatesPerConsumer { tooMany.append(view.consumer) }
        }
        if holders.isEmpty {
            b.producer?.released(sequence, of: b)
        } else {
            b.waiting.append(WaitingPresent(sequence: sequence, holders: holders))
        }
        for c in tooMany { evict(c, "more than \(limits.pendingUpdatesPerConsumer) updates unreleased") }
        if b.counted && !holders.isEmpty { limitPendingUpdates(of: ApplicationKey(guest: b.guest, application: b.application)) }
    }

    /// The buffer is gone: consumers hear `removed`. `releaseWaiting`: the
    /// producer still hears `released` for presents in flight (a reset);
    /// otherwise (a destroy) they are dropped.
    func remove(_ b: SharedBuffer, releaseWaiting: Bool) {
        let waiting = b.waiting
        b.waiting.removeAll()
        if releaseWaiting { for w in waiting { b.producer?.released(w.sequence, of: b) } }
        for view in Array(b.views.values) { view.consumer.removed(view) }
        b.views.removeAll()
        for r in b.references { revoke(r) }
        buffers.removeValue(forKey: b.id)
        if b.counted, var usage = guests[b.guest] {
            usage.buffers -= 1
            usage.bytes -= b.fileSize
            guests[b.guest] = usage
        }
        let key = ApplicationKey(guest: b.guest, application: b.application)
        if b.counted, var usage = applications[key] {
            usage.buffers.remove(b.id)
            usage.bytes -= b.fileSize
            usage.properties -= b.properties.count
            applications[key] = usage.buffers.isEmpty ? nil : usage
        }
        if b.ownsFile { b.file.close() }
        if let common = b.common { common.free(UInt64(b.offset)) }
        if let copy = b.copy {
            copy.close()
            if !b.counted, var usage = guests[b.guest] {
                usage.windowCopies = max(0, usage.windowCopies - 1)
                usage.windowCopyBytes -= min(usage.windowCopyBytes, UInt64(copy.size))
                guests[b.guest] = usage
            }
        }
        b.copy = nil
        counters.buffers = buffers.count
    }

    /// A producer reset (or ended): its buffers go, then subscriptions that
    /// matched one of them hear `reset` with a new generation.
    func reset(_ p: ProducerSession, buffers old: [SharedBuffer]) {
        reset(guest: p.guest, buffers: old)
    }

    /// `old` of `guest` go, then subscriptions that matched one of them
    /// hear `reset` with a new generation.
    func reset(guest: String, buffers old: [SharedBuffer]) {
        guard !old.isEmpty else { return }
        let applications = Set(old.map(\.application))
        for b in old { remove(b, releaseWaiting: true) }
        generation &+= 1
        counters.resets += 1
        let event = PortholeBufferSubscriptionV1Reset(guest: Array(guest.utf8), generation: generation)
        for c in consumers.values where c.mayHear(of: guest) {
            for (id, f) in c.subscriptions where f.matches(guest: guest) && applications.contains(where: f.matches(application:)) {
                c.send(event, toSubscription: id)
            }
        }
    }

    /// The copy of region buffer `b` that consumers not trusted with the
    /// region get, made (whole) for the first of them.
    func copy(of b: SharedBuffer) -> RegionCopy? {
        if let c = b.copy { return c }
        // A producer's buffers are within its quotas already; a guest's
        // windows are not, and a guest registers up to 8192 of them.
        let usage = guests[b.guest] ?? GuestUsage()
        if !b.counted {
            guard usage.windowCopies < limits.regionCopiesPerGuest, usage.windowCopyBytes + UInt64(b.size) <= limits.regionCopyBytesPerGuest else {
                Log.warning("buffer service: buffer \(b.id) is not shown to consumers not trusted with \(b.guest)'s region: " +
                            "\(usage.windowCopies) copies of \(usage.windowCopyBytes) bytes of its windows are the most the host makes")
                return nil
            }
        }
        do { b.copy = try RegionCopy(region: b.file, offset: UInt64(b.offset), size: Int(b.size)) } catch {
            Log.warning("buffer service: cannot copy region buffer \(b.id): \(error)")
            return nil
        }
        if !b.counted {
            guests[b.guest, default: GuestUsage()].windowCopies += 1
            guests[b.guest, default: GuestUsage()].windowCopyBytes += UInt64(b.size)
        }
        counters.regionCopyBytes += UInt64(b.size)
        return b.copy
    }

    func producerEnded(_ p: ProducerSession) {
        producers.removeValue(forKey: ObjectIdentifier(p))
        counters.producers -= 1
    }

    // MARK: From consumers

    func subscribed(_ c: ConsumerSession, subscription id: UInt32, filter: SubscriptionFilter) {
        let event = { (name: String) in PortholeBufferSubscriptionV1GuestConnected(guest: Array(name.utf8)) }
        for name in guests.keys.sorted() where filter.matches(guest: name) && c.mayHear(of: name) { c.send(event(name), toSubscription: id) }
        for b in buffers.values.sorted(by: { $0.id < $1.id }) where b.published && filter.matches(guest: b.guest, application: b.application) && c.maySee(b) {
            c.add(b, through: id)
        }
    }

    func released(_ b: SharedBuffer, by view: ConsumerView, upTo sequence: UInt32) {
        for s in b.drop(view, upTo: sequence) { b.producer?.released(s, of: b) }
    }

    func viewEnded(_ view: ConsumerView, of b: SharedBuffer) {
        b.views.removeValue(forKey: ObjectIdentifier(view.consumer))
        for s in b.drop(view) { b.producer?.released(s, of: b) }
    }

    func consumerEnded(_ c: ConsumerSession) {
        consumers.removeValue(forKey: ObjectIdentifier(c))
        counters.consumers = consumers.count
        if consumers.isEmpty, let t = evictionTimer {
            loop.unregister(t)
            evictionTimer = nil
        }
    }

    // MARK: Eviction

    private func evict(_ c: ConsumerSession, _ why: String) {
        guard !c.isClosed else { return }
        counters.evictions += 1
        c.evict(why)
    }

    /// Past the application's quota of unreleased presents, evicts the
    /// consumer holding the oldest update of its buffers, until under it.
    private func limitPendingUpdates(of key: ApplicationKey) {
        guard let ids = applications[key]?.buffers else { return }
        let owned = ids.compactMap { buffers[$0] }
        while owned.reduce(0, { $0 + $1.waiting.count }) > limits.pendingUpdatesPerApplication {
            let holders = owned.flatMap { $0.views.values }.filter { $0.oldestSentAt != nil && !$0.consumer.isClosed }
            guard let oldest = holders.min(by: { $0.oldestSentAt! < $1.oldestSentAt! }) else { return }
            evict(oldest.consumer, "application \(key.application) of guest \(key.guest) has more than \(limits.pendingUpdatesPerApplication) updates unreleased")
        }
    }

    /// Checks a few times per timeout for updates held too long.
    private func armEvictionTimer() {
        guard evictionTimer == nil else { return }
        let period = UInt64(max(limits.releaseTimeout / 8, 0.01) * 1e9)
        evictionTimer = try? loop.addTimer(nanoseconds: period) { [unowned self] in self.evictSlowConsumers() }
    }

    private func evictSlowConsumers() {
        let now = MonotonicClock.nanoseconds()
        let timeout = UInt64(limits.releaseTimeout * 1e9)
        for c in Array(consumers.values) {
            if let oldest = c.oldestPending, now - oldest > timeout {
                evict(c, "an update stayed unreleased for more than \(limits.releaseTimeout) s")
            }
        }
    }
}
