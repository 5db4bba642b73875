import Foundation
import Glibc
import Link
import PortholeSystem
import Sharing
import Testing
import Wayland

/// A raw guest that speaks the link protocol to a real host proxy with a
/// shared region, and breaks the region and registry rules on purpose.
final class RawRegionGuest {
    let socket: OwnedFD
    private var input: [UInt8] = []
    /// The host's regionInfo, once read.
    private(set) var hostRegion: (size: UInt64, tag: [UInt8])?
    private(set) var frames: [LinkFrame] = []

    init(path: String, offerRegion: Bool = true) throws {
        socket = try Socket.connect(.unix(path: path))
        send(.hello(version: 1, role: .guest, features: offerRegion ? LinkFeatures.sharedRegion : 0))
    }

    func send(_ frame: LinkFrame) {
        let bytes = FrameCodec.encode(frame)
        _ = try? bytes.withUnsafeBytes { try Socket.send(socket, $0, fds: []) }
    }

    /// Reads frames until `done` holds or the link closes; returns false on close or timeout.
    @discardableResult
    func read(timeout: Double = 5, until done: (LinkFrame) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var pfd = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) >= 0 else { return false }
            if pfd.revents == 0 { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            var fds: [OwnedFD] = []
            guard let r = try? buffer.withUnsafeMutableBytes({ try Socket.receive(socket, into: $0, fds: &fds) }),
                  case .bytes(let n) = r else { return false }
            input += buffer[0..<n]
            while let length = try? input.withUnsafeBytes({ try FrameCodec.frameLength($0, limits: LinkLimits()) }), input.count >= length {
                guard let frame = try? input.withUnsafeBytes({ try FrameCodec.decode(UnsafeRawBufferPointer(rebasing: $0[0..<length]), limits: LinkLimits()) }) else { return false }
                input.removeFirst(length)
                frames.append(frame)
                if case .regionInfo(let size, let tag) = frame { hostRegion = (size, tag) }
                if done(frame) { return true }
            }
        }
        return false
    }

    /// Completes the handshake: reads the host's region info and echoes it.
    func agreeOnRegion() throws {
        try #require(read { if case .regionInfo = $0 { return true } else { return false } }, "no regionInfo from the host")
        let info = try #require(hostRegion)
        send(.regionInfo(size: info.size, tag: info.tag))
    }

    /// Whether the host closed the link within `timeout`.
    func waitForClose(timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !read(timeout: 0.2, until: { _ in false }) && isAtEOF() { return true }
        }
        return false
    }

    private func isAtEOF() -> Bool {
        var b = [UInt8](repeating: 0, count: 1)
        let n = recv(socket.rawValue, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN)
    }
}

/// The (object, opcode) of each Wayland message in `bytes`.
func waylandMessages(_ bytes: [UInt8]) -> [(object: UInt32, opcode: UInt16)] {
    var out: [(UInt32, UInt16)] = []
    var o = 0
    while o + 8 <= bytes.count {
        let object = bytes[o..<o + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let opcode = UInt16(bytes[o + 4]) | UInt16(bytes[o + 5]) << 8
        let size = Int(UInt16(bytes[o + 6]) | UInt16(bytes[o + 7]) << 8)
        out.append((object, opcode))
        o += max(size, 8)
    }
    return out
}

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
            let maps = readProcFile("/proc/\(host.pid)/maps")
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

        let evil = try RawRegionGuest(path: s.linkPath)
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
        let evil = try RawRegionGuest(path: s.linkPath, offerRegion: false)
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
        let g = try RawRegionGuest(path: s.linkPath)
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

/// A /proc file's text (they report size 0, so read until end of file).
func readProcFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}
