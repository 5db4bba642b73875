import Glibc
import Link
import PortholeSystem
import SystemTestSupport
import Testing

/// Two endpoints (or an endpoint and a hand-driven peer) on one socket pair,
/// all on one EventLoop in the test's thread.
@Suite struct LinkEndpointTests {
    private func endpointPair(_ guestRole: LinkRole = .guest, _ hostRole: LinkRole = .host, limits: LinkLimits = LinkLimits())
        throws -> (EventLoop, LinkEndpoint, Recorder, LinkEndpoint, Recorder)
    {
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        let ra = Recorder(), rb = Recorder()
        let ea = try LinkEndpoint(socket: a, role: guestRole, name: "a", loop: loop, limits: limits, delegate: ra)
        let eb = try LinkEndpoint(socket: b, role: hostRole, name: "b", loop: loop, limits: limits, delegate: rb)
        return (loop, ea, ra, eb, rb)
    }

    /// An endpoint whose peer is driven by hand.
    private func endpointWithRawPeer(role: LinkRole = .host, limits: LinkLimits = LinkLimits())
        throws -> (EventLoop, LinkEndpoint, Recorder, RawPeer)
    {
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        let recorder = Recorder()
        let endpoint = try LinkEndpoint(socket: a, role: role, name: "endpoint", loop: loop, limits: limits, delegate: recorder)
        let peer = try RawPeer(socket: b, loop: loop)
        return (loop, endpoint, recorder, peer)
    }

    private let helloSize = 28

    // MARK: Handshake

    @Test func handshakeOpensBothEnds() throws {
        let (loop, guest, rg, host, rh) = try endpointPair()
        #expect(!guest.isOpen && !host.isOpen)
        #expect(try runLoop(loop) { rg.opened == 1 && rh.opened == 1 })
        #expect(guest.isOpen && host.isOpen)
        #expect(!guest.isClosed && !host.isClosed)
        #expect(rg.closes.isEmpty && rh.closes.isEmpty)
        #expect(rg.frames.isEmpty && rh.frames.isEmpty)
        #expect(guest.features == 0 && host.features == 0)
        #expect(guest.sentBytes == UInt64(helloSize) && guest.receivedBytes == UInt64(helloSize))
        #expect(host.sentBytes == UInt64(helloSize) && host.receivedBytes == UInt64(helloSize))
        #expect(guest.queuedBytes == 0 && !guest.isCongested)
        // Nothing more happens on an idle open link.
        try loop.addTimer(nanoseconds: 30_000_000, repeating: false) { [unowned loop] in loop.stop() }
        try runLoop(loop)
        #expect(rg.opened == 1 && rh.opened == 1)
        #expect(rg.closes.isEmpty && rh.closes.isEmpty)
    }

    @Test func helloIsTheFirstFrameSent() throws {
        let (loop, endpoint, _, peer) = try endpointWithRawPeer(role: .guest)
        #expect(try runLoop(loop) { !peer.frames.isEmpty })
        #expect(peer.frames.first == .hello(version: 1, role: .guest, features: 0))
        #expect(!endpoint.isOpen, "not open before the peer's hello")
    }

    @Test(arguments: [LinkRole.guest, .host])
    func sameRoleOnBothEndsClosesBoth(role: LinkRole) throws {
        let (loop, a, ra, b, rb) = try endpointPair(role, role)
        #expect(try runLoop(loop) { a.isClosed && b.isClosed })
        #expect(ra.opened == 0 && rb.opened == 0)
        #expect(ra.closes.count == 1, "linkDidClose once, got \(ra.closes)")
        #expect(rb.closes.count == 1, "linkDidClose once, got \(rb.closes)")
        for reason in ra.closes + rb.closes {
            #expect(reason.contains("\(role)") && reason.contains("both ends"), "\(reason)")
        }
        #expect(a.closedByProtocolError && b.closedByProtocolError)
    }

    @Test func peerSpeakingANewerVersionIsAccepted() throws {
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: .host)
        peer.sendHello(role: .guest, version: 7, features: 0xFFFF)
        #expect(try runLoop(loop) { recorder.opened == 1 })
        #expect(endpoint.isOpen)
        #expect(endpoint.features == 0, "features are the AND of both masks; this side supports none")
    }

    /// Sends `bytes` from a raw peer and expects the endpoint to end the link
    /// with a reason containing `expected`, telling the peer with closeLink(1).
    private func expectLinkError(_ bytes: [UInt8], role: LinkRole = .host, limits: LinkLimits = LinkLimits(),
                                 reasonContains expected: String, notifiesPeer: Bool = true,
                                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: role, limits: limits)
        peer.send(bytes)
        #expect(try runLoop(loop) { endpoint.isClosed && peer.endOfStream }, sourceLocation: sourceLocation)
        #expect(recorder.closes.count == 1, "linkDidClose once: \(recorder.closes)", sourceLocation: sourceLocation)
        #expect(recorder.closes.first?.contains(expected) == true, "reason \(recorder.closes) should mention '\(expected)'", sourceLocation: sourceLocation)
        #expect(!endpoint.isOpen, sourceLocation: sourceLocation)
        #expect(peer.decodeError == nil, sourceLocation: sourceLocation)
        // The peer saw our hello, then (for protocol errors) a closeLink with code 1 and the reason.
        #expect(peer.frames.first == .hello(version: 1, role: role, features: 0), sourceLocation: sourceLocation)
        if notifiesPeer {
            #expect(peer.frames.count == 2, "\(peer.frames)", sourceLocation: sourceLocation)
            if case .closeLink(let code, let reason)? = peer.frames.last {
                #expect(code == 1, sourceLocation: sourceLocation)
                #expect(reason.contains(expected), "\(reason)", sourceLocation: sourceLocation)
            } else {
                Issue.record("expected a closeLink, got \(peer.frames)", sourceLocation: sourceLocation)
            }
            #expect(endpoint.closedByProtocolError, sourceLocation: sourceLocation)
        } else {
            #expect(peer.frames.count == 1, "nothing but the hello: \(peer.frames)", sourceLocation: sourceLocation)
        }
    }

    @Test func garbageBytesEndTheLink() throws {
        // "GET " as a length, "/ " as a type: unknown frame type 0x202F.
        try expectLinkError(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), reasonContains: "unknown frame type \(0x202F)")
        try expectLinkError(Array(repeating: 0xFF, count: 64), reasonContains: "unknown frame type 65535")
    }

    @Test func badMagicEndsTheLink() throws {
        try expectLinkError(rawFrame(type: 1, payload: helloPayload(magic: 0x1234_5678, role: 1)), reasonContains: "bad magic 0x12345678")
    }

    @Test func unknownRoleEndsTheLink() throws {
        try expectLinkError(rawFrame(type: 1, payload: helloPayload(role: 3)), reasonContains: "unknown role 3")
    }

    @Test func versionZeroEndsTheLink() throws {
        try expectLinkError(FrameCodec.encode(.hello(version: 0, role: .guest, features: 0)), reasonContains: "version 0")
    }

    @Test func oversizedLengthHeaderEndsTheLinkWithoutWaitingForThePayload() throws {
        // Only the header is sent: the endpoint must not wait for 1 MiB + 1.
        try expectLinkError(rawFrame(type: FrameType.data.rawValue, channel: 1, length: 1 << 20 + 1), reasonContains: "exceeds")
        var small = LinkLimits()
        small.maxPayload = 64
        let hello = FrameCodec.encode(.hello(version: 1, role: .guest, features: 0))
        try expectLinkError(hello + rawFrame(type: 36, channel: 1, length: 65), limits: small, reasonContains: "frame payload of 65 bytes exceeds the 64-byte limit")
    }

    @Test func aFrameBeforeHelloEndsTheLink() throws {
        try expectLinkError(FrameCodec.encode(.creditRequest(channel: 5)), reasonContains: "before hello")
        try expectLinkError(FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 1)), reasonContains: "frame type 16 before hello")
    }

    @Test func secondHelloEndsTheLink() throws {
        let hello = FrameCodec.encode(.hello(version: 1, role: .guest, features: 0))
        try expectLinkError(hello + hello, reasonContains: "second hello")
    }

    @Test func malformedFrameAfterTheHandshakeEndsTheLink() throws {
        let hello = FrameCodec.encode(.hello(version: 1, role: .guest, features: 0))
        try expectLinkError(hello + rawFrame(type: 35, channel: 1, payload: [1, 2]), reasonContains: "malformed")
    }

    @Test func closeLinkInsteadOfHelloIsARefusal() throws {
        try expectLinkError(FrameCodec.encode(.closeLink(code: 1, reason: "go away")), reasonContains: "peer refused: \"go away\"", notifiesPeer: false)
    }

    @Test func fileDescriptorsOnTheLinkEndTheLink() throws {
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: .host)
        let memfd = try Memfd.create(name: "smuggled", size: 1)
        let hello = FrameCodec.encode(.hello(version: 1, role: .guest, features: 0))
        _ = try hello.withUnsafeBytes { try Socket.send(peer.socket, $0, fds: [memfd.rawValue]) }
        #expect(try runLoop(loop) { endpoint.isClosed })
        #expect(recorder.closes.count == 1)
        #expect(recorder.closes.first?.contains("file descriptors") == true, "\(recorder.closes)")
        #expect(recorder.frames.isEmpty)
    }

    // MARK: Frames after the handshake

    /// Whether `received` is `sent` with, at most, frames of different
    /// channels swapped between two link-wide frames.
    static func orderKept(sent: [LinkFrame], received: [LinkFrame]) -> Bool {
        func pieces(_ frames: [LinkFrame]) -> [[UInt32: [LinkFrame]]] {
            var out: [[UInt32: [LinkFrame]]] = [[:]]
            for f in frames {
                if let c = f.channel { out[out.count - 1][c, default: []].append(f) } else { out.append([UInt32.max: [f]]); out.append([:]) }
            }
            return out
        }
        return pieces(sent) == pieces(received)
    }

    @Test func framesArriveInOrderAfterTheHandshake() throws {
        let (loop, guest, rg, host, rh) = try endpointPair()
        var rng = SplitMix64(seed: 99)
        var toHost: [LinkFrame] = []
        var toGuest: [LinkFrame] = []
        for i in 0..<300 {
            var f = randomFrame(using: &rng, maxBytes: 3000)
            if case .hello = f { f = .creditRequest(channel: UInt32(i)) }
            if case .closeLink = f { f = .pipeClose(channel: 1, resource: UInt32(i)) }
            toHost.append(f)
            var g = randomFrame(using: &rng, maxBytes: 500)
            if case .hello = g { g = .creditRequest(channel: UInt32(i)) }
            if case .closeLink = g { g = .pipeClose(channel: 2, resource: UInt32(i)) }
            toGuest.append(g)
        }
        // Big frames too, so writes are partial and frames span many reads.
        for i in stride(from: 10, to: 300, by: 60) {
            toHost[i] = .data(channel: 1, credit: .init(bufAlloc: 1, fwdCnt: 2), resources: [1, 2, 3], bytes: randomBytes(900_000, using: &rng))
        }
        var sentToHost = false
        rg.onOpen = { link in
            for f in toHost { link.send(f) }
            sentToHost = true
        }
        rh.onOpen = { link in for f in toGuest { link.send(f) } }
        #expect(try runLoop(loop) { rh.frames.count >= toHost.count && rg.frames.count >= toGuest.count })
        #expect(sentToHost)
        #expect(rh.frames.count == toHost.count)
        // Small frames of a quiet channel may go ahead of other channels'
        // big ones (LinkOutput); each channel's own order, and the order
        // around link-wide frames, stay as sent.
        #expect(Self.orderKept(sent: toHost, received: rh.frames))
        #expect(Self.orderKept(sent: toGuest, received: rg.frames))
        #expect(rh.frames != toHost, "no frame went ahead of another channel's big frame")
        #expect(rg.closes.isEmpty && rh.closes.isEmpty)
        let toHostBytes = toHost.reduce(0) { $0 + FrameCodec.encode($1).count } + helloSize
        #expect(guest.sentBytes == UInt64(toHostBytes))
        #expect(host.receivedBytes == UInt64(toHostBytes))
        #expect(guest.queuedBytes == 0)
    }

    @Test func framesSplitIntoSingleBytesAreReassembled() throws {
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: .host)
        let frames: [LinkFrame] = [
            .channelOpen(channel: 1, bufAlloc: 262_144),
            .data(channel: 1, credit: .init(bufAlloc: 262_144, fwdCnt: 0), resources: [4], bytes: Array(0..<64)),
            .creditRequest(channel: 1),
        ]
        var bytes = FrameCodec.encode(.hello(version: 1, role: .guest, features: 0))
        for f in frames { bytes += FrameCodec.encode(f) }
        var at = 0
        // One byte per loop tick.
        let feeder = try loop.addTimer(nanoseconds: 200_000) {
            if at < bytes.count { peer.send([bytes[at]]); at += 1 }
        }
        #expect(try runLoop(loop, timeout: 20) { recorder.frames.count == frames.count })
        loop.unregister(feeder)
        #expect(recorder.opened == 1)
        #expect(recorder.frames == frames)
        #expect(endpoint.receivedBytes == UInt64(bytes.count))
    }

    @Test func helloAndFramesInOneWrite() throws {
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: .host)
        var bytes = FrameCodec.encode(.hello(version: 1, role: .guest, features: 0))
        bytes += FrameCodec.encode(.channelOpen(channel: 9, bufAlloc: 5))
        bytes += FrameCodec.encode(.channelClose(channel: 9, code: 0, reason: "closed"))
        peer.send(bytes)
        #expect(try runLoop(loop) { recorder.frames.count == 2 })
        #expect(recorder.opened == 1)
        #expect(recorder.frames == [.channelOpen(channel: 9, bufAlloc: 5), .channelClose(channel: 9, code: 0, reason: "closed")])
        #expect(endpoint.isOpen)
    }

    @Test func delegateErrorEndsTheLinkAndTellsThePeer() throws {
        let (loop, guest, rg, host, rh) = try endpointPair()
        rh.onFrame = { (_, frame) throws(LinkProtocolError) in
            if case .channelOpen(let c, _, _) = frame, c == 3 { throw .unknownChannel(3) }
        }
        rg.onOpen = { link in
            link.send(.channelOpen(channel: 1, bufAlloc: 1))
            link.send(.channelOpen(channel: 3, bufAlloc: 1))
            link.send(.channelOpen(channel: 4, bufAlloc: 1))
        }
        #expect(try runLoop(loop) { guest.isClosed && host.isClosed })
        #expect(rh.frames == [.channelOpen(channel: 1, bufAlloc: 1), .channelOpen(channel: 3, bufAlloc: 1)], "nothing is delivered after the error")
        #expect(rh.closes == [LinkProtocolError.unknownChannel(3).description])
        #expect(host.closedByProtocolError)
        #expect(rg.closes.count == 1)
        #expect(rg.closes.first?.contains("peer closed the link") == true && rg.closes.first?.contains("unknown channel 3") == true, "\(rg.closes)")
        #expect(!guest.closedByProtocolError)
    }

    // MARK: Closing

    @Test func orderlyCloseReachesThePeer() throws {
        let (loop, guest, rg, host, rh) = try endpointPair()
        #expect(try runLoop(loop) { guest.isOpen && host.isOpen })
        guest.close(reason: "shutting down")
        #expect(guest.isClosed && !guest.isOpen)
        #expect(rg.closes == ["shutting down"])
        #expect(try runLoop(loop) { host.isClosed })
        #expect(rh.closes.count == 1)
        #expect(rh.closes.first?.contains("peer closed the link") == true && rh.closes.first?.contains("shutting down") == true, "\(rh.closes)")
        #expect(!host.closedByProtocolError && !guest.closedByProtocolError)
        // Closing twice, or sending after close, does nothing.
        guest.close(reason: "again")
        guest.send(.creditRequest(channel: 1))
        #expect(rg.closes == ["shutting down"])
        #expect(guest.queuedBytes == 0)
    }

    @Test func peerSocketCloseEndsTheLink() throws {
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: .host)
        peer.sendHello(role: .guest)
        #expect(try runLoop(loop) { endpoint.isOpen })
        peer.close()
        #expect(try runLoop(loop) { endpoint.isClosed })
        #expect(recorder.closes == ["peer closed the connection"])
        #expect(!endpoint.closedByProtocolError)
    }

    @Test func peerSocketCloseBeforeTheHandshake() throws {
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: .guest)
        peer.close()
        #expect(try runLoop(loop) { endpoint.isClosed })
        #expect(recorder.opened == 0)
        #expect(recorder.closes.count == 1, "\(recorder.closes)")
    }

    @Test func framesBeforeAPeerCloseAreStillDelivered() throws {
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: .host)
        peer.sendHello(role: .guest)
        peer.send(.channelOpen(channel: 1, bufAlloc: 2))
        peer.send(.channelClose(channel: 1, code: 0, reason: "bye"))
        peer.close()
        #expect(try runLoop(loop) { endpoint.isClosed })
        #expect(recorder.frames == [.channelOpen(channel: 1, bufAlloc: 2), .channelClose(channel: 1, code: 0, reason: "bye")])
        #expect(recorder.closes == ["peer closed the connection"])
    }

    /// A protocol error from a peer that has already hung up: the closeLink
    /// cannot be written (EPIPE), and the delegate must still hear about the
    /// end of the link exactly once, with the real reason.
    @Test func protocolErrorFromAPeerThatAlreadyHungUp() throws {
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: .host)
        peer.send(Array(repeating: 0xEE, count: 16))
        peer.close()
        #expect(try runLoop(loop) { endpoint.isClosed })
        #expect(recorder.closes.count == 1, "linkDidClose must be called once, got \(recorder.closes)")
        #expect(recorder.closes.first?.contains("unknown frame type") == true, "\(recorder.closes)")
    }

    @Test func longUnicodeCloseReasonIsTruncatedOnACharacterBoundary() throws {
        let (loop, endpoint, _, peer) = try endpointWithRawPeer(role: .guest)
        peer.sendHello(role: .host)
        #expect(try runLoop(loop) { endpoint.isOpen })
        // 1 + 1400 bytes: the 1024-byte limit falls inside an "é".
        let reason = "a" + String(repeating: "é", count: 700)
        endpoint.close(reason: reason)
        #expect(try runLoop(loop) { peer.endOfStream })
        #expect(peer.decodeError == nil, "the peer must be able to decode the closeLink: \(String(describing: peer.decodeError))")
        guard case .closeLink(_, let sent)? = peer.frames.last else { Issue.record("no closeLink: \(peer.frames)"); return }
        #expect(sent.utf8.count <= LinkLimits().maxReasonBytes)
        #expect(sent.utf8.count >= LinkLimits().maxReasonBytes - 3, "truncated, not replaced: '\(sent.prefix(20))…' (\(sent.utf8.count) bytes)")
        let isPrefix = reason.hasPrefix(sent)
        #expect(isPrefix, "the reason sent is a prefix of the original")
    }

    // MARK: Back-pressure

    @Test func congestionAndDrain() throws {
        var limits = LinkLimits()
        limits.linkHighWater = 256 * 1024
        let (loop, endpoint, recorder, peer) = try endpointWithRawPeer(role: .guest, limits: limits)
        peer.sendHello(role: .host)
        #expect(try runLoop(loop) { endpoint.isOpen && peer.frames.count == 1 })
        peer.stopReading()
        var rng = SplitMix64(seed: 7)
        var sent: [LinkFrame] = []
        while !endpoint.isCongested && sent.count < 10_000 {
            let f = LinkFrame.data(channel: 1, credit: .init(bufAlloc: 1, fwdCnt: 1), resources: [], bytes: randomBytes(32_768, using: &rng))
            endpoint.send(f)
            sent.append(f)
        }
        #expect(endpoint.isCongested)
        #expect(endpoint.queuedBytes > limits.linkHighWater)
        #expect(recorder.drains == 0)
        // Still congested while the peer does not read.
        try loop.addTimer(nanoseconds: 20_000_000, repeating: false) { [unowned loop] in loop.stop() }
        try runLoop(loop)
        #expect(endpoint.isCongested)
        #expect(recorder.drains == 0)
        try peer.startReading()
        #expect(try runLoop(loop) { recorder.drains == 1 && peer.frames.count == sent.count + 1 })
        #expect(!endpoint.isCongested)
        #expect(endpoint.queuedBytes == 0)
        #expect(Array(peer.frames.dropFirst()) == sent)
        #expect(recorder.drains == 1, "one drain per congestion episode")
        #expect(recorder.closes.isEmpty)
    }
}
