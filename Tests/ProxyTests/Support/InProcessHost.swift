import BufferService
import Foundation
import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import Sharing
import SystemTestSupport
import Testing
import Wayland

/// A host proxy in this process, for testing what it does with a guest's
/// input without starting anything: one `EventLoop` that the test pumps in
/// small steps, a `HostProxy` whose compositor is a `ScriptedCompositor` in
/// a temporary directory, and raw guest links (`RawGuestLink`) on socket
/// pairs that send any frame. Everything runs on the test's thread.
///
///     let h = try InProcessHost()
///     defer { h.tearDown() }
///     let g = try h.connectGuest()
///     let ch = try h.openChannel(1, on: g)          // accepted; the compositor has a connection
///     g.request(1, 1, 1, [.newID(2)])                // wl_display.get_registry
///     h.pump { ch.compositor.messages.count == 1 }
final class InProcessHost {
    let loop: EventLoop
    /// Holds the compositor's socket, the region file and whatever a test
    /// adds (guest proxies' sockets).
    let temporaryDirectory: TemporaryDirectory
    var directory: String { temporaryDirectory.path }
    let compositor: ScriptedCompositor
    let host: HostProxy
    let region: SharedRegion?
    let limits: LinkLimits
    private(set) var guests: [RawGuestLink] = []
    /// Called after every turn of the loop `pump` and `settle` run (a test
    /// watching how much one link had handled in each turn).
    var afterEachTurn: (() -> Void)?
    /// The host's session of each raw guest, by the guest.
    private var sessionKeys: [ObjectIdentifier: ObjectIdentifier] = [:]

    /// A channel the host accepted, and the compositor connection it opened for it.
    struct Channel {
        let id: UInt32
        let compositor: CompositorClient
    }

    /// `hostLimits`: the host-wide quotas (the host's own by default).
    /// `regionSize`: give the host a shared region of that many bytes (a
    /// file in the temporary directory), as `--region` does. `policy`: what
    /// guests are allowed (`--allow`, `--clipboard`, `--no-title-label`);
    /// the default is the host's.
    init(limits: LinkLimits = LinkLimits(), hostLimits: HostLimits = HostLimits(), regionSize: Int? = nil,
         globals: [ScriptedCompositor.Global] = ScriptedCompositor.standardGlobals, policy: GuestPolicy = GuestPolicy(),
         bufferLimits: BufferServiceLimits = .patient) throws {
        let temporary = try TemporaryDirectory(prefix: "porthole-inproc")
        // A compositor or region that fails to start throws before any
        // tearDown could be deferred: the directory goes with the error.
        var started = false
        defer { if !started { temporary.remove() } }
        temporaryDirectory = temporary
        let dir = temporary.path
        loop = try EventLoop()
        self.limits = limits
        compositor = try ScriptedCompositor(path: dir + "/wayland-0", loop: loop, globals: globals)
        region = try regionSize.map { try SharedRegion.host(path: dir + "/region", size: $0) }
        host = HostProxy(loop: loop, displayPath: compositor.path, limits: limits, hostLimits: hostLimits, region: region)
        // The scripted compositor runs on this same loop, so it cannot answer
        // the host's blocking security-context registration (SecurityContextTests
        // covers that against a compositor on its own thread).
        host.registersSecurityContexts = false
        host.policy = policy
        host.bufferService = BufferService(loop: loop, limits: bufferLimits)
        started = true
    }

    /// Shuts the host down and removes the temporary directory.
    func tearDown() {
        host.shutdown()
        for g in guests { g.endpoint.close(reason: "test over", notifyPeer: false) }
        settle()
        compositor.stop()
        temporaryDirectory.remove()
    }

    /// For a fixture that throws after making its host (a guest that did
    /// not come up): neither its deferred `tearDown` nor its own deinit
    /// runs then, but the host is released.
    deinit { temporaryDirectory.remove() }

    // MARK: Driving the loop

    /// Runs the loop in small steps until `condition` holds or `timeout`
    /// seconds pass. Returns the condition.
    @discardableResult
    func pump(timeout: Double = 5, until condition: () -> Bool) -> Bool {
        let deadline = monotonicNow() + UInt64(timeout * 1e9)
        while !condition() {
            if monotonicNow() >= deadline { return condition() }
            loop.runOnce(timeout: 0.005)
            afterEachTurn?()
        }
        return true
    }

    /// Runs the loop until nothing has happened for `quiet` seconds (at most
    /// `timeout`): everything sent so far has been handled.
    func settle(quiet: Double = 0.02, timeout: Double = 5) {
        let deadline = monotonicNow() + UInt64(timeout * 1e9)
        while monotonicNow() < deadline {
            let ran = loop.runOnce(timeout: quiet)
            afterEachTurn?()
            if ran == 0 { return }
        }
    }

    // MARK: Guests

    /// A raw guest on a new link, after the handshake (and, when asked and
    /// the host has a region, after agreeing on it).
    func connectGuest(offerRegion: Bool = false, agreeOnRegion: Bool = true, offerBufferService: Bool = false, offerLane: Bool = false,
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> RawGuestLink {
        let (hostEnd, guestEnd) = try Socket.pair()
        let before = Set(host.sessions.keys)
        host.serve(link: hostEnd, from: "raw guest \(guests.count + 1)")
        let g = try RawGuestLink(socket: guestEnd, loop: loop, offerRegion: offerRegion, offerBufferService: offerBufferService,
                                 offerLane: offerLane, name: "raw guest \(guests.count + 1)")
        guests.append(g)
        // Through a constant: assigned straight into the dictionary, #require
        // would take the optional as its value and never fail.
        let key = try #require(Set(host.sessions.keys).subtracting(before).first, "the host took no session",
                               sourceLocation: sourceLocation)
        sessionKeys[ObjectIdentifier(g)] = key
        try #require(pump { g.isOpen || g.isClosed } && g.isOpen, "handshake failed: \(g.closeReason ?? "timeout")",
                     sourceLocation: sourceLocation)
        if offerRegion && region != nil {
            try #require(pump { g.hostRegion != nil }, "no regionInfo", sourceLocation: sourceLocation)
            if agreeOnRegion {
                try g.agreeOnRegion()
                try #require(pump { self.hostSession(of: g)?.session.hostRegion?.active == true }, "region not agreed",
                             sourceLocation: sourceLocation)
            }
        }
        return g
    }

    /// A new connection the host serves as it serves any guest's, driven
    /// by raw bytes (a bulk lane's `laneAttach`, or anything else).
    func connectRaw(from origin: String = "a raw connection") throws -> OwnedFD {
        try connectRawSession(from: origin).0
    }

    /// The same, and the host's session for it.
    func connectRawSession(from origin: String = "a raw connection", sourceLocation: SourceLocation = #_sourceLocation) throws -> (OwnedFD, HostLinkSession) {
        let (hostEnd, mine) = try Socket.pair()
        let before = Set(host.sessions.keys)
        host.serve(link: hostEnd, from: origin)
        let key = try #require(Set(host.sessions.keys).subtracting(before).first, "the host took no session", sourceLocation: sourceLocation)
        return (mine, try #require(host.sessions[key], sourceLocation: sourceLocation))
    }

    /// Reads and drops what the host sent on a raw connection; true once
    /// the host has closed it.
    func closedByHost(_ fd: OwnedFD) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd.rawValue, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            return n == 0 || (errno != EAGAIN && errno != EINTR)
        }
    }

    /// Opens channel `c` on `g` and waits for the host to accept it and
    /// connect to the compositor.
    func openChannel(_ c: UInt32, on g: RawGuestLink, sourceLocation: SourceLocation = #_sourceLocation) throws -> Channel {
        let before = compositor.clients.count
        g.openChannel(c)
        try #require(pump { g.accepted(c) || g.channelClose(c) != nil || g.isClosed } && g.accepted(c),
                     "channel \(c) not accepted: \(g.channelClose(c).map { "\($0)" } ?? g.closeReason ?? "timeout")",
                     sourceLocation: sourceLocation)
        try #require(pump { self.compositor.clients.count > before }, "no compositor connection for channel \(c)",
                     sourceLocation: sourceLocation)
        return Channel(id: c, compositor: compositor.clients[before])
    }

    /// A channel with a registry (id 2) whose globals have arrived, and, if
    /// asked, `wl_shm` bound as id 3.
    func openClient(_ c: UInt32, on g: RawGuestLink, bindShm: Bool = false,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Channel {
        let ch = try openChannel(c, on: g, sourceLocation: sourceLocation)
        g.request(c, 1, 1, [.newID(2)])
        let count = compositor.globals.count
        try #require(pump { g.events(c).filter { $0.objectID == 2 }.count >= self.shownGlobals(count) },
                     "no globals on channel \(c)", sourceLocation: sourceLocation)
        if bindShm {
            g.request(c, 2, 0, [.uint(2), .untypedNewID(interface: Array("wl_shm".utf8), version: 1, id: 3)])
            try #require(pump { !ch.compositor.messages(named: "wl_registry.bind").isEmpty }, "bind not forwarded",
                         sourceLocation: sourceLocation)
        }
        return ch
    }

    /// How many of the first `count` globals the host shows.
    private func shownGlobals(_ count: Int) -> Int {
        compositor.globals.prefix(count).filter {
            host.policy.allows(global: $0.interface) && FdTranslationTable.standard.mayExpose(global: $0.interface, tables: .builtin)
        }.count
    }

    /// A raw consumer of the host's buffer service, on a socket pair.
    func connectConsumer() throws -> WaylandTestClient {
        let (mine, theirs) = try Socket.pair()
        try #require(host.bufferService).serveConsumer(socket: theirs)
        return try WaylandTestClient(socket: mine, loop: loop)
    }

    // MARK: Looking inside

    /// The host's session for guest `g` (nil once its link is gone).
    func hostSession(of g: RawGuestLink) -> HostLinkSession? {
        sessionKeys[ObjectIdentifier(g)].flatMap { host.sessions[$0] }
    }

    /// The host's side of channel `c` of guest `g`.
    func hostChannel(_ c: UInt32, of g: RawGuestLink) -> LinkChannel? {
        hostSession(of: g)?.session.channels[c]
    }

    /// The host's stats as numbers.
    func stats() -> [String: Int] {
        var out: [String: Int] = [:]
        let text = host.statsJSON().trimmingCharacters(in: CharacterSet(charactersIn: "{}\n"))
        for field in text.split(separator: ",") {
            let parts = field.split(separator: ":")
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
            out[key] = Int(parts[1].trimmingCharacters(in: .whitespaces))
        }
        return out
    }
}

extension BufferServiceLimits {
    /// The service's limits, except that a consumer may hold an update for
    /// 30 s instead of 2 before it is evicted: a test's own consumer is
    /// driven by the test's thread, which a loaded machine can stall for
    /// longer than 2 s. Tests of eviction set their own timeout.
    static var patient: BufferServiceLimits {
        var limits = BufferServiceLimits()
        limits.releaseTimeout = 30
        return limits
    }
}
