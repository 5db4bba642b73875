import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import Testing
import SystemTestSupport
import Wayland

/// Every check the host makes on a guest's link frames (docs/ARCHITECTURE.md,
/// "Trust boundary"), each broken on purpose by a raw guest: the host ends
/// that link with a clear reason and carries on serving the others.
@Suite("Host checks: link frames") struct HostLinkChecksTests {
    static let credit = LinkFrame.Credit(bufAlloc: 1 << 20, fwdCnt: 0)

    // MARK: Framing and handshake

    @Test func unknownFrameType() throws {
        try InProcessHost.expectLinkError("unknown frame type 61166") { _, g in g.sendRaw(Array(repeating: 0xEE, count: 64)) }
    }

    @Test func frameLongerThanTheLimit() throws {
        try InProcessHost.expectLinkError("exceeds the 1048576-byte limit") { _, g in
            g.sendRaw([0xFF, 0xFF, 0xFF, 0x7F, 19, 0, 0, 0, 1, 0, 0, 0])
        }
    }

    @Test func malformedPayload() throws {
        // A channelOpen (bufAlloc, reserved) with four bytes too many.
        var payload: [UInt8] = []
        withUnsafeBytes(of: UInt32(65536).littleEndian) { payload += $0 }
        payload += [0, 0, 0, 0, 0, 0, 0, 0]
        var frame: [UInt8] = []
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { frame += $0 }
        frame += [16, 0, 0, 0, 1, 0, 0, 0] + payload
        try InProcessHost.expectLinkError("malformed channelOpen frame: 4 trailing bytes") { _, g in g.sendRaw(frame) }
    }

    @Test func secondHello() throws {
        try InProcessHost.expectLinkError("second hello") { _, g in g.send(.hello(version: 1, role: .guest, features: 0)) }
    }

    @Test func fileDescriptorsOverTheLink() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (hostEnd, guestEnd) = try Socket.pair()
        h.host.serve(link: hostEnd, from: "fd sender")
        let memfd = try Memfd.create(name: "stray", size: 16)
        let hello = FrameCodec.encode(.hello(version: 1, role: .guest, features: 0))
        _ = try hello.withUnsafeBytes { try Socket.send(guestEnd, $0, fds: [memfd.rawValue]) }
        #expect(h.pump { h.host.sessions.isEmpty })
        var buffer = [UInt8](repeating: 0, count: 4096)
        var fds: [OwnedFD] = []
        var got: [UInt8] = []
        while case .bytes(let n)? = try? buffer.withUnsafeMutableBytes({ try Socket.receive(guestEnd, into: $0, fds: &fds) }) { got += buffer[0..<n] }
        // After the host's hello: a closeLink for a protocol error, counted as one.
        let helloLength = try #require(try got.withUnsafeBytes { try FrameCodec.frameLength($0, limits: LinkLimits()) })
        let close = try got[helloLength...].withUnsafeBytes { try FrameCodec.decode($0, limits: LinkLimits()) }
        #expect(close == .closeLink(code: LinkCloseCode.protocolError.rawValue, reason: "peer sent file descriptors over the link"), "\(close)")
        #expect(h.stats()["link_errors"] == 1)
    }

    @Test func readOnlyFileLargerThanAnyKeymap() throws {
        // Senders refuse files over 16 MiB; the host held the guest to 1 GiB only.
        try InProcessHost.expectLinkError("read-only file 5 of 16777217 bytes exceeds 16777216") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .readOnlyFile, size: (16 << 20) + 1))
        }
    }

    /// A hello frame built by hand: magic, version, role, reserved, features.
    static func rawHello(magic: UInt32 = LinkProtocol.magic, version: UInt16 = 1, role: UInt8 = 1) -> [UInt8] {
        var p: [UInt8] = []
        withUnsafeBytes(of: magic.littleEndian) { p += $0 }
        withUnsafeBytes(of: version.littleEndian) { p += $0 }
        p += [role, 0]
        p += [UInt8](repeating: 0, count: 8)
        var frame: [UInt8] = []
        withUnsafeBytes(of: UInt32(p.count).littleEndian) { frame += $0 }
        return frame + [1, 0, 0, 0, 0, 0, 0, 0] + p
    }

    @Test(arguments: [(rawHello(magic: 0x1234_5678), "bad magic 0x12345678 in hello"),
                      (rawHello(version: 0), "peer speaks link version 0"),
                      (rawHello(role: 7), "unknown role 7 in hello"),
                      (rawHello(role: 2), "both ends claim to be the host")])
    func helloRefused(_ hello: [UInt8], _ fragment: String) throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (hostEnd, guestEnd) = try Socket.pair()
        h.host.serve(link: hostEnd, from: "bad hello")
        writeAll(guestEnd.rawValue, hello)
        #expect(h.pump { h.host.sessions.isEmpty })
        #expect(h.stats()["link_errors"] == 1)
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var fds: [OwnedFD] = []
        while case .bytes(let n)? = try? buffer.withUnsafeMutableBytes({ try Socket.receive(guestEnd, into: $0, fds: &fds) }) { reply += buffer[0..<n] }
        #expect(String(decoding: reply, as: UTF8.self).contains(fragment), "the host said: \(String(decoding: reply, as: UTF8.self))")
    }

    @Test func dataFrameWithTooManyResourceReferences() throws {
        try InProcessHost.expectLinkError("malformed data frame: 256 resource references") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.data(channel: 1, credit: Self.credit, resources: Array(1...256), bytes: []))
        }
    }

    @Test func frameBeforeHello() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (hostEnd, guestEnd) = try Socket.pair()
        h.host.serve(link: hostEnd, from: "no hello")
        writeAll(guestEnd.rawValue, FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536)))
        #expect(h.pump { h.host.sessions.isEmpty })
        #expect(h.stats()["link_errors"] == 1)
        #expect(h.compositor.clients.isEmpty)
    }

    /// Raw bytes from a guest that may not even say hello (these ran
    /// against a host process before): the host closes the socket, counts a
    /// link error, and serves a bystander and new guests.
    struct RawAttack: Sendable, CustomTestStringConvertible {
        var name: String
        var fragment: String
        var bytes: @Sendable () -> [UInt8]
        var testDescription: String { name }
    }

    static func hello() -> [UInt8] { FrameCodec.encode(.hello(version: 1, role: .guest, features: 0)) }

    static let rawAttacks: [RawAttack] = [
        RawAttack(name: "garbage instead of hello", fragment: "unknown frame type", bytes: { Array(repeating: 0xEE, count: 64) }),
        RawAttack(name: "impossible length", fragment: "frame payload of 4294967295 bytes exceeds the 1048576-byte limit", bytes: {
            hello() + [0xFF, 0xFF, 0xFF, 0xFF, 19, 0, 0, 0, 1, 0, 0, 0]
        }),
        RawAttack(name: "oversized frame", fragment: "exceeds the 1048576-byte limit", bytes: {
            hello() + FrameCodec.encode(.data(channel: 1, credit: .init(bufAlloc: 0, fwdCnt: 0), resources: [], bytes: Array(repeating: 0, count: 2 << 20)))
        }),
        RawAttack(name: "huge resource", fragment: "resource 5 of 1099511627776 bytes exceeds 1073741824", bytes: {
            hello() + FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536))
                + FrameCodec.encode(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 1 << 40))
        }),
        RawAttack(name: "credit overrun in one go", fragment: "credit overrun on channel 1", bytes: {
            var out = hello() + FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536))
            // 300 KiB of wl_display.sync requests: more than the host's 256 KiB window.
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
    ]

    @Test(arguments: rawAttacks)
    func rawBytes(_ attack: RawAttack) throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let bystander = try h.connectGuest()
        let b = try h.openClient(1, on: bystander)
        let (hostEnd, evil) = try Socket.pair()
        h.host.serve(link: hostEnd, from: "evil")
        let bytes = attack.bytes()
        var offset = 0
        var reply: [UInt8] = []
        var closed = false
        let deadline = monotonicNow() + 10_000_000_000
        // Write what the socket takes, let the host read, until it hangs up.
        while !closed && monotonicNow() < deadline {
            if offset < bytes.count {
                let n = (try? bytes.withUnsafeBytes { try Socket.send(evil, UnsafeRawBufferPointer(rebasing: $0[offset...]), fds: []) }) ?? -1
                if n < 0 { offset = bytes.count } else { offset += n }
            }
            h.loop.runOnce(timeout: 0.001)
            var buffer = [UInt8](repeating: 0, count: 65536)
            var fds: [OwnedFD] = []
            switch try? buffer.withUnsafeMutableBytes({ try Socket.receive(evil, into: $0, fds: &fds) }) {
            case .bytes(let n)?: reply += buffer[0..<n]
            case .endOfStream?, nil: closed = true
            case .wouldBlock?: break
            }
        }
        #expect(closed, "the host kept the link")
        var frames: [LinkFrame] = []
        var o = 0
        while let n = try? reply[o...].withUnsafeBytes({ try FrameCodec.frameLength($0, limits: LinkLimits()) }), o + n <= reply.count,
              let f = try? reply[o..<(o + n)].withUnsafeBytes({ try FrameCodec.decode($0, limits: LinkLimits()) }) {
            frames.append(f)
            o += n
        }
        let close = frames.compactMap { if case .closeLink(let code, let reason) = $0 { return (code, reason) } else { return nil } }.first
        #expect(close?.0 == 1 && close?.1.contains(attack.fragment) == true, "closeLink: \(close.map { "\($0)" } ?? "none")")
        #expect(h.pump { h.stats()["links"] == 1 }, "\(h.stats())")
        #expect(h.stats()["link_errors"] == 1 && h.stats()["clients"] == 1, "\(h.stats())")
        let evilConnections = Array(h.compositor.clients.dropFirst())
        #expect(h.pump { evilConnections.allSatisfy(\.sawEOF) })
        #expect(evilConnections.allSatisfy { $0.messages.isEmpty }, "the compositor got part of an attack")
        bystander.request(1, 1, 0, [.newID(3)])
        #expect(h.pump { bystander.events(1).contains { $0.objectID == 3 } } && !b.compositor.sawEOF)
        _ = try h.openClient(1, on: try h.connectGuest())
    }

    // MARK: Channels

    @Test func frameForAnUnknownChannel() throws {
        try InProcessHost.expectLinkError("frame for unknown channel 9") { _, g in g.request(9, 1, 0, [.newID(3)]) }
    }

    @Test func channelZero() throws {
        try InProcessHost.expectLinkError("malformed channelOpen frame: channel 0") { h, g in
            let before = h.compositor.clients.count
            g.openChannel(0)
            h.settle()
            #expect(h.compositor.clients.count == before, "the host connected to the compositor for channel 0")
        }
    }

    @Test func channelOpenedTwice() throws {
        try InProcessHost.expectLinkError("channel 1 opened twice") { h, g in
            _ = try h.openChannel(1, on: g)
            g.openChannel(1)
        }
    }

    @Test func moreChannelsThanTheLimit() throws {
        var limits = LinkLimits()
        limits.maxChannels = 2
        try InProcessHost.expectLinkError("more than 2 channels", limits: limits) { h, g in
            _ = try h.openChannel(1, on: g)
            _ = try h.openChannel(2, on: g)
            let before = h.compositor.clients.count
            g.openChannel(3)
            h.settle()
            #expect(h.compositor.clients.count == before, "a third compositor connection")
        }
    }

    @Test func channelAcceptFromTheGuest() throws {
        try InProcessHost.expectLinkError("the host does not open channels") { _, g in
            g.send(.channelAccept(channel: 1, bufAlloc: 65536))
        }
    }

    @Test func dataBeyondTheCreditWindow() throws {
        var limits = LinkLimits()
        limits.channelBuffer = 4096
        try InProcessHost.expectLinkError("credit overrun on channel 1: 4104 bytes sent with 4096 free", limits: limits) { h, g in
            let ch = try h.openChannel(1, on: g)
            // 342 wl_display.sync requests: 4104 bytes, 8 more than the window.
            g.wayland(1, (0..<342).map { wl(1, 0, [.newID(10 + UInt32($0))]) })
            h.settle()
            #expect(ch.compositor.messages.isEmpty, "the compositor got part of an overrunning frame")
        }
    }

    @Test func creditCountsWhatTheCompositorHasNotTaken() throws {
        // Frames that each fit the window, but not together while the
        // compositor reads nothing: what the host still holds counts.
        var limits = LinkLimits()
        limits.channelBuffer = 4096
        try InProcessHost.expectLinkError("credit overrun on channel 1", limits: limits) { h, g in
            let ch = try h.openChannel(1, on: g)
            ch.compositor.stopReading()
            var next: UInt32 = 2
            for _ in 0..<2000 where !g.isClosed {
                // 341 syncs: 4092 bytes, inside the window on their own.
                g.wayland(1, (0..<341).map { i in wl(1, 0, [.newID(next + UInt32(i))]) })
                next += 341
                for _ in 0..<4 { h.loop.runOnce(timeout: 0) }
            }
            ch.compositor.resumeReading()
        }
    }

    // MARK: Resources

    @Test func resourceWithTheHostsOwnerBit() throws {
        try InProcessHost.expectLinkError("resource id 2147483653 has the wrong owner bit") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 0x8000_0005, kind: .shmPool, size: 4096))
        }
    }

    @Test func resourceIDInUse() throws {
        try InProcessHost.expectLinkError("resource 5 on channel 1 opened twice") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .pipe, size: 0))
        }
    }

    @Test func moreResourcesThanTheLimit() throws {
        var limits = LinkLimits()
        limits.maxResourcesPerChannel = 4
        try InProcessHost.expectLinkError("more than 4 resources on channel 1", limits: limits) { h, g in
            _ = try h.openChannel(1, on: g)
            for rid in UInt32(1)...5 { g.send(.resourceOpen(channel: 1, resource: rid, kind: .shmPool, size: 4096)) }
        }
    }

    @Test func resourceLargerThanTheLimit() throws {
        var limits = LinkLimits()
        limits.maxResourceSize = 1 << 20
        try InProcessHost.expectLinkError("resource 5 of 1048577 bytes exceeds 1048576", limits: limits) { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .readOnlyFile, size: (1 << 20) + 1))
        }
    }

    @Test func resourcesBeyondTheLinksBudget() throws {
        var limits = LinkLimits()
        limits.maxResourceSize = 1 << 20
        limits.maxTotalResourceBytes = 2 << 20
        try InProcessHost.expectLinkError("resource 7 on channel 2: resource memory held for this guest: 2097152 of 2097152 in use, 1 more asked", limits: limits) { h, g in
            _ = try h.openChannel(1, on: g)
            _ = try h.openChannel(2, on: g)
            // The budget is the link's: two channels together.
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 1 << 20))
            g.send(.resourceOpen(channel: 2, resource: 6, kind: .shmPool, size: 1 << 20))
            h.settle()
            #expect(h.hostSession(of: g)?.session.channels.heldResourceBytes == 2 << 20)
            g.send(.resourceOpen(channel: 2, resource: 7, kind: .shmPool, size: 1))
        }
    }

    @Test func closedResourcesGiveTheirBudgetBack() throws {
        var limits = LinkLimits()
        limits.maxResourceSize = 1 << 20
        limits.maxTotalResourceBytes = 2 << 20
        let h = try InProcessHost(limits: limits)
        defer { h.tearDown() }
        let g = try h.connectGuest()
        _ = try h.openChannel(1, on: g)
        for round in UInt32(0)..<4 {
            g.send(.resourceOpen(channel: 1, resource: 10 + round, kind: .shmPool, size: 1 << 20))
            g.send(.resourceOpen(channel: 1, resource: 20 + round, kind: .shmPool, size: 1 << 20))
            g.send(.resourceClose(channel: 1, resource: 10 + round))
            g.send(.resourceClose(channel: 1, resource: 20 + round))
        }
        h.settle()
        #expect(!g.isClosed, "\(g.closeReason ?? "")")
        #expect(h.hostSession(of: g)?.session.channels.heldResourceBytes == 0)
    }

    @Test func resourceExtendShrinking() throws {
        try InProcessHost.expectLinkError("resource 5 shrinks from 8192 to 4096") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 8192))
            g.send(.resourceExtend(channel: 1, resource: 5, size: 4096))
        }
    }

    @Test(arguments: [ResourceKind.pipe, .readOnlyFile])
    func resourceExtendOfWhatIsNotAPool(_ kind: ResourceKind) throws {
        try InProcessHost.expectLinkError("unknown resource 5 on channel 1") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: kind, size: kind == .pipe ? 0 : 4096))
            g.send(.resourceExtend(channel: 1, resource: 5, size: 8192))
        }
    }

    @Test func resourceExtendBeyondTheLimit() throws {
        var limits = LinkLimits()
        limits.maxResourceSize = 1 << 20
        try InProcessHost.expectLinkError("resource 5 cannot grow to 1048577 bytes", limits: limits) { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
            g.send(.resourceExtend(channel: 1, resource: 5, size: (1 << 20) + 1))
        }
    }

    @Test func resourceExtendBeyondTheLinksBudget() throws {
        var limits = LinkLimits()
        limits.maxResourceSize = 1 << 20
        limits.maxTotalResourceBytes = 1 << 20
        try InProcessHost.expectLinkError("resource 5 on channel 1: resource memory held for this guest: 8192 of 1048576 in use, 1044480 more asked", limits: limits) { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
            g.send(.resourceOpen(channel: 1, resource: 6, kind: .shmPool, size: 4096))
            g.send(.resourceExtend(channel: 1, resource: 5, size: 1 << 20))
        }
    }

    @Test func resourceExtendOfAnUnknownResource() throws {
        try InProcessHost.expectLinkError("unknown resource 8 on channel 1") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceExtend(channel: 1, resource: 8, size: 8192))
        }
    }

    @Test(arguments: [UInt64(4090), UInt64.max - 2])
    func resourceUpdateOutsideTheResource(_ offset: UInt64) throws {
        try InProcessHost.expectLinkError("update range \(offset)+16 outside resource 5 of 4096 bytes") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
            g.send(.resourceUpdate(channel: 1, resource: 5, ranges: [UpdateRange(offset: offset, length: 16)],
                                   bytes: Array(repeating: 1, count: 16)))
        }
    }

    @Test func largeResourceUpdateOutsideTheResource() throws {
        // Long runs are received straight into place: checked before any byte lands.
        try InProcessHost.expectLinkError("update range 0+65536 outside resource 5 of 32768 bytes") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 32768))
            g.send(.resourceUpdate(channel: 1, resource: 5, ranges: [UpdateRange(offset: 0, length: 65536)],
                                   bytes: Array(repeating: 1, count: 65536)))
        }
    }

    @Test func resourceUpdateOfAnUnknownResource() throws {
        try InProcessHost.expectLinkError("unknown resource 8 on channel 1") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceUpdate(channel: 1, resource: 8, ranges: [UpdateRange(offset: 0, length: 4)], bytes: [1, 2, 3, 4]))
        }
    }

    @Test func resourceUpdateOfAPipe() throws {
        try InProcessHost.expectLinkError("unknown resource 5 on channel 1") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .pipe, size: 0))
            g.send(.resourceUpdate(channel: 1, resource: 5, ranges: [UpdateRange(offset: 0, length: 4)], bytes: [1, 2, 3, 4]))
        }
    }

    @Test func pipeResourceWithASize() throws {
        try InProcessHost.expectLinkError("malformed resourceOpen frame: pipe with a size") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .pipe, size: 4096))
        }
    }

    /// A keymap file is sealed and handed to the compositor with the message
    /// that carries it; the guest cannot write to it afterwards.
    @Test func resourceUpdateOfAReadOnlyFileAfterDelivery() throws {
        try InProcessHost.expectLinkError("unknown resource 9 on channel 1", policy: allowVirtualKeyboard) { h, g in
            let ch = try h.openClient(1, on: g)
            g.wayland(1, [bind(5, "zwp_virtual_keyboard_manager_v1", 1, id: 3), bind(3, "wl_seat", 1, id: 4),
                          wl(3, 0, [.object(4), .newID(5)])])
            g.send(.resourceOpen(channel: 1, resource: 9, kind: .readOnlyFile, size: 64))
            g.send(.resourceUpdate(channel: 1, resource: 9, ranges: [UpdateRange(offset: 0, length: 64)], bytes: Array(repeating: 0x20, count: 64)))
            g.request(1, 5, 0, [.uint(1), .fd, .uint(64)], resources: [9])
            #expect(h.pump { !ch.compositor.messages(named: "zwp_virtual_keyboard_v1.keymap").isEmpty })
            let fd = try #require(ch.compositor.messages(named: "zwp_virtual_keyboard_v1.keymap").first?.fds.first)
            #expect(try Memfd.seals(of: fd).contains([.write, .grow, .shrink, .seal]), "the keymap reached the compositor unsealed")
            #expect(try fd.fileSize() == 64)
            g.send(.resourceUpdate(channel: 1, resource: 9, ranges: [UpdateRange(offset: 0, length: 4)], bytes: [1, 2, 3, 4]))
        }
    }

    @Test func resourceCloseOfAnUnknownResource() throws {
        try InProcessHost.expectLinkError("unknown resource 9 on channel 1") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceClose(channel: 1, resource: 9))
        }
    }

    @Test func resourceCloseOfAHostResource() throws {
        try InProcessHost.expectLinkError("peer closed resource 2147483649 it does not own") { h, g in
            let ch = try h.openClient(1, on: g)
            let pipe = try h.hostPipe(on: g, ch)
            #expect(pipe.rid == 0x8000_0001)
            g.send(.resourceClose(channel: 1, resource: pipe.rid))
        }
    }

    // MARK: Pipes

    @Test func pipeDataReachesTheCompositorsPipe() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let ch = try h.openClient(1, on: g)
        let pipe = try h.hostPipe(on: g, ch)
        try pipe.read.setNonBlocking()
        g.send(.pipeData(channel: 1, resource: pipe.rid, bytes: Array("pasted".utf8)))
        g.send(.pipeClose(channel: 1, resource: pipe.rid))
        h.settle()
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(pipe.read.rawValue, &buffer, 64)
        #expect(n == 6 && Array(buffer[0..<6]) == Array("pasted".utf8))
        #expect(read(pipe.read.rawValue, &buffer, 64) == 0, "the pipe did not end")
        #expect(!g.isClosed)
    }

    @Test func pipeDataForAnUnknownPipe() throws {
        try InProcessHost.expectLinkError("unknown resource 2147483655 on channel 1") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.pipeData(channel: 1, resource: 0x8000_0007, bytes: [1, 2, 3]))
        }
    }

    @Test func pipeDataForAPipeTheGuestOpened() throws {
        // The guest's own pipe resources carry data from the host, not to it.
        try InProcessHost.expectLinkError("unknown resource 5 on channel 1") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .pipe, size: 0))
            g.send(.pipeData(channel: 1, resource: 5, bytes: [1, 2, 3]))
        }
    }

    @Test func pipeDataAfterTheGuestClosedThePipe() throws {
        try InProcessHost.expectLinkError("unknown resource 2147483649 on channel 1") { h, g in
            let ch = try h.openClient(1, on: g)
            let pipe = try h.hostPipe(on: g, ch)
            g.send(.pipeClose(channel: 1, resource: pipe.rid))
            g.send(.pipeData(channel: 1, resource: pipe.rid, bytes: [1, 2, 3]))
        }
    }

    @Test func pipeDataBeyondTheCreditWindow() throws {
        var limits = LinkLimits()
        limits.channelBuffer = 4096
        try InProcessHost.expectLinkError("credit overrun on channel 1: 5000 bytes sent with", limits: limits) { h, g in
            let ch = try h.openClient(1, on: g)
            let pipe = try h.hostPipe(on: g, ch)
            g.send(.pipeData(channel: 1, resource: pipe.rid, bytes: Array(repeating: 7, count: 5000)))
        }
    }

    @Test func pipeCloseForAnUnknownPipe() throws {
        try InProcessHost.expectLinkError("unknown resource 2147483655 on channel 1") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.pipeClose(channel: 1, resource: 0x8000_0007))
        }
    }

    // MARK: Shared-region frames on a host without a region

    @Test(arguments: [
        LinkFrame.regionInfo(size: 4 << 20, tag: Array(repeating: 1, count: 16)),
        .bufferRegister(.init(id: 1, application: "evil", ranges: [.init(offset: 4096, length: 4096)])),
        .bufferUnregister(id: 1),
        .registryReset,
    ])
    func regionFrameWithoutARegion(_ frame: LinkFrame) throws {
        try InProcessHost.expectLinkError("shared-region frame, but this host has no region") { _, g in g.send(frame) }
    }

    @Test func regionResourceWithoutARegion() throws {
        try InProcessHost.expectLinkError("resource 5 names the shared region, but none was agreed on this link") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .region, size: 4 << 20))
        }
    }
}
