import Foundation
import Glibc
import Link
import PortholeSystem
import SystemTestSupport
import Testing
import Wayland

/// A hostile guest link against a real host process and weston: the
/// offender is cut off with a reason, a real guest carries on, and the host
/// process is back at its resting descriptor count. Every check itself,
/// and hostile clients, have direct in-process tests in ProxyTests/HostChecks
/// (docs/ARCHITECTURE.md, "Trust boundary"); these two attacks, which make
/// the host open a compositor connection and a memfd, stay here for the
/// process-wide leak count.
@Suite("Hostile links against a host process", .serialized, .tags(.processes))
struct HostileInputTests {
    /// What a raw "guest" does on its link, and the reason the host must log.
    struct LinkAttack: Sendable, CustomStringConvertible {
        var name: String
        var logFragment: String
        var bytes: @Sendable () -> [UInt8]
        var description: String { name }
    }

    static func hello() -> [UInt8] { FrameCodec.encode(.hello(version: 1, role: .guest, features: 0)) }

    static let attacks: [LinkAttack] = [
        LinkAttack(name: "credit overrun", logFragment: "credit overrun", bytes: {
            var out = hello() + FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536))
            // 300 KiB of wl_display.sync requests in one go: more than the host's 256 KiB window.
            var sync: [UInt8] = []
            for i in 0..<(300 * 1024 / 12) { sync += WireCodec.encode(objectID: 1, opcode: 0, [.newID(UInt32(2 + i))]) }
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
