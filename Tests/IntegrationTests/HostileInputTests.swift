import Foundation
import Glibc
import Link
import PortholeSystem
import Testing
import Wayland

/// Bad input from a guest client or from a guest's link: the offender is cut
/// off with a reason, everyone else carries on, nothing leaks.
@Suite("Hostile clients and links", .serialized)
struct HostileInputTests {
    /// Sends `bytes` (+fds) from a raw client and expects a wl_display.error and
    /// a closed connection, while a well-behaved client on the same guest works.
    func expectClientRejected(_ chain: ProxiedWeston, expecting fragment: String,
                              _ script: (RawWaylandClient) throws -> Void) throws {
        let bystander = try RawWaylandClient(path: chain.guest.socketPath!)
        let before = try bystander.registryGlobals()
        #expect(before["wl_compositor"] != nil)

        let bad = try RawWaylandClient(path: chain.guest.socketPath!)
        try script(bad)
        let error = try bad.expectErrorAndClose()
        let (object, code, message) = try #require(error, "the bad client was not disconnected")
        #expect(message.contains(fragment), "error was object \(object) code \(code): \(message)")

        // The bystander still gets answers.
        // libwayland wants new ids in sequence: 2 and 3 went to the registry and the first sync.
        try bystander.send(1, 0, [.newID(4)])
        let reply = try bystander.readMessages(until: { $0.contains { $0.0 == 4 } })
        #expect(reply.contains { $0.0 == 4 }, "the other client stopped getting events")
        #expect(!bystander.sawEOF)
        #expect(chain.guest.isRunning && chain.host.isRunning)
    }

    @Test("message size below 8 bytes")
    func sizeBelowHeader() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        try expectClientRejected(chain, expecting: "below the 8-byte header") { c in
            try c.send([1, 0, 0, 0, 1, 0, 4, 0])
        }
    }

    @Test("message size not a multiple of 4")
    func sizeNotAligned() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        try expectClientRejected(chain, expecting: "multiple of 4") { c in
            try c.send([1, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0])
        }
    }

    @Test("unknown object")
    func unknownObject() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        try expectClientRejected(chain, expecting: "invalid object 77") { c in try c.send(77, 0, []) }
    }

    @Test("unknown opcode")
    func unknownOpcode() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        try expectClientRejected(chain, expecting: "opcode 9") { c in try c.send(1, 9, []) }
    }

    /// Binds wl_shm as id 4 on a raw client (ids 2 and 3 are the registry and a sync).
    func bindShm(_ c: RawWaylandClient) throws {
        let globals = try c.registryGlobals()
        let shm = try #require(globals["wl_shm"])
        try c.send(2, 0, [.uint(shm.0), .untypedNewID(interface: Array("wl_shm".utf8), version: 1, id: 4)])
    }

    @Test("wl_shm.create_pool without its fd")
    func missingFd() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        try expectClientRejected(chain, expecting: "file descriptor missing") { c in
            try bindShm(c)
            try c.send(4, 0, [.newID(5), .fd, .int(4096)])
        }
    }

    @Test("buffer outside its pool")
    func bufferOutsidePool() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        try expectClientRejected(chain, expecting: "outside the pool") { c in
            try bindShm(c)
            let memfd = try Memfd.create(name: "small-pool", size: 4096)
            try c.send(4, 0, [.newID(5), .fd, .int(4096)], fds: [memfd])
            try c.send(5, 0, [.newID(6), .int(0), .int(100), .int(100), .int(400), .uint(1)])
        }
    }

    @Test("pool fd smaller than the pool it claims")
    func poolFdTooSmall() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        try expectClientRejected(chain, expecting: "pool fd holds") { c in
            try bindShm(c)
            let memfd = try Memfd.create(name: "tiny", size: 100)
            try c.send(4, 0, [.newID(5), .fd, .int(1 << 20)], fds: [memfd])
        }
    }

    @Test("binding a global the proxy hides")
    func bindHiddenGlobal() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        let direct = try RawWaylandClient(path: chain.weston.socketPath)
        let hidden = try #require(try direct.registryGlobals()["weston_screenshooter"])
        try expectClientRejected(chain, expecting: "invalid global") { c in
            _ = try c.registryGlobals()
            try c.send(2, 0, [.uint(hidden.0), .untypedNewID(interface: Array("wl_compositor".utf8), version: 1, id: 4)])
        }
    }

    // MARK: hostile links

    /// What a raw "guest" does on its link, and the reason the host must log.
    struct LinkAttack: Sendable, CustomStringConvertible {
        var name: String
        var logFragment: String
        var bytes: @Sendable () -> [UInt8]
        var description: String { name }
    }

    static func hello() -> [UInt8] { FrameCodec.encode(.hello(version: 1, role: .guest, features: 0)) }

    static let attacks: [LinkAttack] = [
        LinkAttack(name: "garbage", logFragment: "unknown frame type", bytes: { Array(repeating: 0xEE, count: 64) }),
        LinkAttack(name: "impossible length", logFragment: "exceeds", bytes: {
            hello() + [0xFF, 0xFF, 0xFF, 0xFF, 19, 0, 0, 0, 1, 0, 0, 0]
        }),
        LinkAttack(name: "oversized frame", logFragment: "exceeds", bytes: {
            hello() + FrameCodec.encode(.data(channel: 1, credit: .init(bufAlloc: 0, fwdCnt: 0), resources: [], bytes: Array(repeating: 0, count: 2 << 20)))
        }),
        LinkAttack(name: "unknown channel", logFragment: "unknown channel 9", bytes: {
            hello() + FrameCodec.encode(.data(channel: 9, credit: .init(bufAlloc: 65536, fwdCnt: 0), resources: [], bytes: WireCodec.encode(objectID: 1, opcode: 0, [.newID(3)])))
        }),
        LinkAttack(name: "credit overrun", logFragment: "credit overrun", bytes: {
            var out = hello() + FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536))
            // 300 KiB of wl_display.sync requests in one go: more than the host's 256 KiB window.
            var sync: [UInt8] = []
            for i in 0..<(300 * 1024 / 12) { sync += WireCodec.encode(objectID: 1, opcode: 0, [.newID(UInt32(100 + i))]) }
            var offset = 0
            while offset < sync.count {
                let n = min(900 * 1024 / 12 * 12, sync.count - offset)
                out += FrameCodec.encode(.data(channel: 1, credit: .init(bufAlloc: 65536, fwdCnt: 0), resources: [], bytes: Array(sync[offset..<(offset + n)])))
                offset += n
            }
            return out
        }),
        LinkAttack(name: "update outside a resource", logFragment: "outside resource", bytes: {
            hello() + FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536))
                + FrameCodec.encode(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
                + FrameCodec.encode(.resourceUpdate(channel: 1, resource: 5, ranges: [UpdateRange(offset: 4090, length: 16)], bytes: Array(repeating: 1, count: 16)))
        }),
        LinkAttack(name: "huge resource", logFragment: "exceeds", bytes: {
            hello() + FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536))
                + FrameCodec.encode(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 1 << 40))
        }),
    ]

    @Test("a hostile link ends only that link; the host keeps serving other guests and leaks nothing", arguments: attacks)
    func hostileLink(attack: LinkAttack) throws {
        let setup = try WestonWithHost()
        defer { setup.stop() }
        let (runtime, host) = (setup.runtime, setup.host)
        let baseline = try restingFDCount(host)

        // A good guest is connected the whole time.
        let good = try setup.startGuest(socketName: "good-guest")
        defer { good.terminate() }
        try good.waitForSocket()

        guard case .unix(let path) = setup.address else { return }
        let evil = try Socket.connect(.unix(path: path))
        let bytes = attack.bytes()
        var offset = 0
        let deadline = Date().addingTimeInterval(10)
        while offset < bytes.count && Date() < deadline {
            let n = (try? bytes.withUnsafeBytes { try Socket.send(evil, UnsafeRawBufferPointer(rebasing: $0[offset...]), fds: []) }) ?? -1
            if n < 0 { break }
            if n == 0 { usleep(1000) }
            offset += max(n, 0)
        }
        // The host closes the evil link: we see EOF.
        let closed = waitUntil(timeout: 10) {
            var b = [UInt8](repeating: 0, count: 4096)
            var fds: [OwnedFD] = []
            let r = try? b.withUnsafeMutableBytes { try Socket.receive(evil, into: $0, fds: &fds) }
            if case .endOfStream? = r { return true }
            return r == nil
        }
        #expect(closed, "host did not close the hostile link (\(attack.name))")
        let logged = waitUntil(timeout: 5) { host.diagnostics(tailLines: 200).contains(attack.logFragment) }
        #expect(logged, "host log lacks '\(attack.logFragment)':\n\(host.diagnostics(tailLines: 20))")
        #expect(host.isRunning)

        // The good guest still works end to end.
        let info = parseWaylandInfoGlobals(try Weston.waylandInfo(display: "good-guest", runtime: runtime))
        #expect(info["wl_compositor"] != nil, "good guest broken after \(attack.name)")

        evil.close()
        good.terminate()
        let back = waitUntil(timeout: 10) { (try? host.openFDCount()) == baseline }
        if !back {
            let sockets = (try? runCommand("ss", ["-xp"], logDirectory: runtime.path, check: false).stdoutText) ?? ""
            Issue.record("host fds: baseline \(baseline), now \((try? host.openFDCount()) ?? -1): \((try? openFDs(pid: host.pid)) ?? [:])\n\(sockets.split(separator: "\n").filter { $0.contains("porthole") || $0.contains("xctest") || $0.contains("weston") }.joined(separator: "\n"))")
        }
        let counted = try? host.waitForStats("link_errors counted", timeout: 5) { $0["link_errors", default: 0] >= 1 }
        #expect(counted != nil, "link_errors not counted")
    }
}
