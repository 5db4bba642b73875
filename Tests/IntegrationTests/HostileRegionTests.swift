import Foundation
import Glibc
import Link
import PortholeSystem
import Sharing
import Testing
import Wayland

@Suite("Hostile guests in shared-region mode", .serialized)
struct HostileRegionTests {
    final class Setup {
        let runtime: RuntimeDir
        let weston: Weston
        let host: PortholeProcess
        let linkPath: String
        init() throws {
            runtime = try RuntimeDir()
            weston = try Weston(runtime: runtime)
            let address = LinkAddress.unix(in: runtime)
            linkPath = runtime.file("link.sock")
            host = try Porthole.startHost(runtime: runtime, link: .listen(address), display: weston.socketName,
                                          extraArguments: ["--region", runtime.file("region"), "--region-size", "4M"])
            try host.waitForListening()
        }
        func stop() {
            host.terminate()
            weston.stop()
        }
        /// Mappings of the region file in the host process.
        func hostRegionMappings() -> Int {
            let maps = (try? readProcFile("/proc/\(host.pid)/maps")) ?? ""
            return maps.split(separator: "\n").filter { $0.hasSuffix(runtime.file("region")) }.count
        }
    }

    struct Attack: Sendable, CustomStringConvertible {
        var name: String
        var logFragment: String
        var frames: @Sendable (_ regionSize: UInt64) -> [LinkFrame]
        var description: String { name }
    }

    static let attacks: [Attack] = [
        Attack(name: "range outside the region", logFragment: "outside the region") { size in
            [.bufferRegister(BufferDescriptor(id: 1, application: "evil", ranges: [MemoryRange(offset: size - 4096, length: 8192)]))]
        },
        Attack(name: "range in the header page", logFragment: "outside the region") { _ in
            [.bufferRegister(BufferDescriptor(id: 1, application: "evil", ranges: [MemoryRange(offset: 0, length: 4096)]))]
        },
        Attack(name: "unregister twice", logFragment: "buffer 1 is not registered") { _ in
            [.bufferRegister(BufferDescriptor(id: 1, application: "evil", ranges: [MemoryRange(offset: 4096, length: 4096)])),
             .bufferUnregister(id: 1), .bufferUnregister(id: 1)]
        },
        Attack(name: "region resource of the wrong size", logFragment: "names a") { size in
            [.channelOpen(channel: 1, bufAlloc: 65536),
             .resourceOpen(channel: 1, resource: 5, kind: .region, size: size * 2)]
        },
        Attack(name: "pixel update sent to the region", logFragment: "takes no updates") { size in
            [.channelOpen(channel: 1, bufAlloc: 65536),
             .resourceOpen(channel: 1, resource: 5, kind: .region, size: size),
             .resourceUpdate(channel: 1, resource: 5, ranges: [UpdateRange(offset: 0, length: 4)], bytes: [1, 2, 3, 4])]
        },
    ]

    @Test("a guest breaking the registry rules loses its link; the host touches nothing and leaks nothing", arguments: attacks)
    func registryAttack(attack: Attack) throws {
        let s = try Setup()
        defer { s.stop() }
        let baseline = try restingFDCount(s.host)
        let mappings = s.hostRegionMappings()
        #expect(mappings == 1, "the host maps the header page only")

        let evil = try RawLinkGuest(path: s.linkPath)
        try evil.agreeOnRegion()
        for f in attack.frames(try #require(evil.hostRegion).size) { evil.send(f) }
        #expect(evil.waitForClose(), "the host kept the link of \(attack.name)")
        let logged = waitUntil(timeout: 5) { s.host.diagnostics(tailLines: 100).contains(attack.logFragment) }
        #expect(logged, "host log lacks '\(attack.logFragment)':\n\(s.host.diagnostics(tailLines: 20))")
        #expect(s.host.isRunning)
        evil.socket.close()
        #expect(waitUntil(timeout: 10) { (try? s.host.openFDCount()) == baseline }, "fds: \(baseline) -> \((try? s.host.openFDCount()) ?? -1)")
        #expect(s.hostRegionMappings() == mappings)
        let stats = try s.host.waitForStats("link error counted", timeout: 5) { $0["links"] == 0 && $0["link_errors", default: 0] >= 1 }
        #expect(stats["registered_buffers"] == 0, "\(stats)")
    }

    @Test("a region resource on a link that never agreed on the region ends that link")
    func regionWithoutAgreement() throws {
        let s = try Setup()
        defer { s.stop() }
        let evil = try RawLinkGuest(path: s.linkPath, offerRegion: false)
        evil.send(.channelOpen(channel: 1, bufAlloc: 65536))
        evil.send(.resourceOpen(channel: 1, resource: 5, kind: .region, size: 4 << 20))
        evil.send(.bufferRegister(BufferDescriptor(id: 1, application: "evil", ranges: [MemoryRange(offset: 4096, length: 64)])))
        #expect(evil.waitForClose())
        #expect(waitUntil(timeout: 5) { s.host.diagnostics(tailLines: 50).contains("none was agreed") })
        #expect(s.host.isRunning)
    }

    /// Registers a buffer, makes a wl_buffer in it (accepted), resets the
    /// registry mid-frame, makes another (refused with a Wayland error for
    /// that client only); the link itself stays up.
    @Test("reset mid-frame: later buffers in the dropped memory are refused with a clear error")
    func resetMidFrame() throws {
        let s = try Setup()
        defer { s.stop() }
        let g = try RawLinkGuest(path: s.linkPath)
        try g.agreeOnRegion()
        let size = try #require(g.hostRegion).size
        g.send(.bufferRegister(BufferDescriptor(id: 1, application: "raw", ranges: [MemoryRange(offset: 4096, length: 64 * 64 * 4)],
                                                properties: [("width", "64"), ("height", "64")])))
        g.send(.channelOpen(channel: 1, bufAlloc: 1 << 20))
        let credit = LinkFrame.Credit(bufAlloc: 1 << 20, fwdCnt: 0)
        func wayland(_ messages: [[UInt8]], resources: [UInt32] = []) {
            g.send(.data(channel: 1, credit: credit, resources: resources, bytes: messages.flatMap { $0 }))
        }
        wayland([WireCodec.encode(objectID: 1, opcode: 1, [.newID(2)])])   // get_registry
        var shmName: UInt32?
        try #require(g.read { frame in
            guard case .data(_, _, _, let bytes) = frame else { return false }
            var o = 0
            while o + 8 <= bytes.count {
                let size = Int(UInt16(bytes[o + 6]) | UInt16(bytes[o + 7]) << 8)
                let object = bytes[o..<o + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                if object == 2, size > 16 {
                    let text = String(decoding: bytes[(o + 16)..<(o + size)].prefix { $0 != 0 }, as: UTF8.self)
                    if text == "wl_shm" { shmName = bytes[(o + 8)..<(o + 12)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
                }
                o += max(size, 8)
            }
            return shmName != nil
        }, "no wl_shm global")
        g.send(.resourceOpen(channel: 1, resource: 9, kind: .region, size: size))
        wayland([WireCodec.encode(objectID: 2, opcode: 0, [.uint(shmName!), .untypedNewID(interface: Array("wl_shm".utf8), version: 1, id: 3)]),
                 WireCodec.encode(objectID: 3, opcode: 0, [.newID(4), .fd, .int(Int32(size))]),                       // create_pool on the region
                 WireCodec.encode(objectID: 4, opcode: 0, [.newID(5), .int(4096), .int(64), .int(64), .int(256), .uint(1)]), // inside buffer 1
                 WireCodec.encode(objectID: 1, opcode: 0, [.newID(6)])], resources: [9])
        try #require(g.read { if case .data(_, _, _, let b) = $0 { return waylandMessages(b).contains { $0.object == 6 } } else { return false } },
                     "the good create_buffer was not followed by the sync's done: \(s.host.diagnostics())")
        #expect(!g.frames.contains { if case .channelClose = $0 { return true } else { return false } })

        g.send(.registryReset)
        wayland([WireCodec.encode(objectID: 4, opcode: 0, [.newID(7), .int(4096), .int(64), .int(64), .int(256), .uint(1)])])
        let refused = g.read { if case .channelClose(1, _, _) = $0 { return true } else { return false } }
        #expect(refused, "the host accepted a buffer in memory the guest had reset")
        #expect(waitUntil(timeout: 5) { s.host.diagnostics(tailLines: 50).contains("not inside a registered buffer") },
                "\(s.host.diagnostics(tailLines: 20))")
        // The link is still up: a new channel opens.
        g.send(.channelClose(channel: 1, code: 0, reason: "ack"))
        g.send(.channelOpen(channel: 2, bufAlloc: 65536))
        #expect(g.read { if case .channelAccept(2, _) = $0 { return true } else { return false } }, "the link did not survive")
        let stats = try s.host.stats()
        #expect(stats["registered_buffers"] == 0)
        #expect(stats["link_errors"] == 0)
    }
}

