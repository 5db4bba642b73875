import Glibc
@testable import Link
import PortholeSystem
import SystemTestSupport
import Testing

/// A delegate that takes `resourceUpdate` data straight into memory of its own.
private final class TargetRecorder: LinkEndpointDelegate {
    let memory: UnsafeMutableRawPointer
    let size: Int
    var frames: [LinkFrame] = []
    var closes: [String] = []
    var completed = 0
    var copied = 0
    var direct = 0
    /// Return no target (frames arrive whole instead).
    var declines = false
    /// Throw this from updateTargetFor.
    var refusal: LinkProtocolError?
    var asked: [(channel: UInt32, resource: UInt32, ranges: [UpdateRange])] = []
    /// Called for each frame handled (not received into place).
    var onFrame: ((LinkFrame) -> Void)?

    init(size: Int) {
        self.size = size
        memory = .allocate(byteCount: size, alignment: 16)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    }
    deinit { memory.deallocate() }

    var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: memory, count: size)) }

    func linkDidOpen(_ link: LinkEndpoint) {}
    func link(_ link: LinkEndpoint, received frame: LinkFrame) throws(LinkProtocolError) {
        frames.append(frame)
        onFrame?(frame)
    }
    func linkDidDrain(_ link: LinkEndpoint) {}
    func linkDidClose(_ link: LinkEndpoint, reason: String) { closes.append(reason) }
    func link(_ link: LinkEndpoint, updateTargetFor channel: UInt32, resource: UInt32,
              ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget? {
        asked.append((channel, resource, ranges))
        if let refusal { throw refusal }
        if declines { return nil }
        for r in ranges where r.offset + UInt64(r.length) > UInt64(size) {
            throw .rangeOutsideResource(resource: resource, offset: r.offset, length: r.length, size: UInt64(size))
        }
        return UpdateTarget(base: memory, limit: UInt64(size), owner: self) { [unowned self] t in
            completed += t.frames
            copied += t.copied
            direct += t.direct
        }
    }
}

/// Whether two byte arrays are equal: an expectation given the result, not
/// the arrays, prints no megabytes when it fails.
private func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool { a == b }

/// Memory that the sender reads update runs from.
private final class Source {
    let pointer: UnsafeMutableRawPointer
    let size: Int
    init<G: RandomNumberGenerator>(size: Int, using rng: inout G) {
        self.size = size
        pointer = .allocate(byteCount: size, alignment: 16)
        let bytes = randomBytes(size, using: &rng)
        pointer.copyMemory(from: bytes, byteCount: size)
    }
    deinit { pointer.deallocate() }
    var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: pointer, count: size)) }
}

/// Applies decoded update frames to a zeroed memory image.
private func apply(_ frames: [LinkFrame], size: Int) -> [UInt8] {
    var image = [UInt8](repeating: 0, count: size)
    for case .resourceUpdate(_, _, let ranges, let bytes) in frames {
        var at = 0
        for r in ranges {
            for i in 0..<Int(r.length) { image[Int(r.offset) + i] = bytes[at + i] }
            at += Int(r.length)
        }
    }
    return image
}

/// Sending updates by gather write and receiving them straight into memory.
@Suite struct UpdatePathTests {
    /// Runs: long ones (queued by reference), short ones (copied), one that
    /// spans several frames, adjacent and empty ones.
    private func mixedRuns(size: Int) -> [UpdateRun] {
        [UpdateRun(offset: 0, length: 100), UpdateRun(offset: 100, length: 5000), UpdateRun(offset: 8192, length: 0),
         UpdateRun(offset: 9000, length: 2_500_000), UpdateRun(offset: 2_600_000, length: 64),
         UpdateRun(offset: 2_700_000, length: 300_000), UpdateRun(offset: size - 10, length: 10)]
    }

    private func expectedImage(_ source: Source, _ runs: [UpdateRun]) -> [UInt8] {
        var image = [UInt8](repeating: 0, count: source.size)
        let src = source.bytes
        for r in runs { for i in r.offset..<(r.offset + r.length) { image[i] = src[i] } }
        return image
    }

    @Test(arguments: [false, true])
    func sendUpdateWritesValidFramesHoldingTheRuns(writer: Bool) throws {
        var rng = SplitMix64(seed: 5)
        let size = 3_200_000
        let source = Source(size: size, using: &rng)
        let loop = try EventLoop()
        let (link, peer) = try openGuestLink(loop, writer: writer)
        let runs = mixedRuns(size: size)
        let total = runs.reduce(0) { $0 + $1.length }
        let sent = link.sendUpdate(channel: 3, resource: 7, base: source.pointer, runs: runs, owner: source)
        #expect(sent == total)
        // Every byte of the runs has reached the peer (not only the socket).
        let received = { peer.frames.reduce(0) { n, f in if case .resourceUpdate(_, _, _, let b) = f { n + b.count } else { n } } }
        #expect(try runLoop(loop) { link.queuedBytes == 0 && received() == total })
        #expect(peer.decodeError == nil)
        let updates = peer.frames.filter { if case .resourceUpdate = $0 { true } else { false } }
        for case .resourceUpdate(let c, let r, let ranges, let bytes) in updates {
            #expect(c == 3 && r == 7)
            #expect(8 + 16 * ranges.count + bytes.count <= LinkLimits().maxPayload - 4096)
        }
        #expect(updates.count >= total / LinkEndpoint.updateFrameData, "frames carry at most \(LinkEndpoint.updateFrameData) bytes of data")
        let same1 = sameBytes(apply(updates, size: size), expectedImage(source, runs))
        #expect(same1)
        #expect(link.referencedBytes > 2_000_000, "long runs are queued by reference, not copied")
    }

    /// A commit's small update and the message behind it wake the peer once:
    /// what is queued inside `corked` goes out in one write when it ends.
    @Test func framesQueuedWhileCorkedGoOutInOneWrite() throws {
        var rng = SplitMix64(seed: 11)
        let source = Source(size: 64 * 1024, using: &rng)
        let loop = try EventLoop()
        let (link, peer) = try openGuestLink(loop)
        let runs = [UpdateRun(offset: 0, length: 200), UpdateRun(offset: 4096, length: 9000)]
        let before = link.loopWrites
        link.corked {
            link.sendUpdate(channel: 3, resource: 7, base: source.pointer, runs: runs, owner: source)
            #expect(link.queuedBytes > 9200, "nothing is written while corked")
            link.send(.creditRequest(channel: 3))
        }
        #expect(link.loopWrites == before + 1)
        #expect(link.queuedBytes == 0)
        #expect(try runLoop(loop) { peer.frames.last == .creditRequest(channel: 3) })
        let updates = peer.frames.filter { if case .resourceUpdate = $0 { true } else { false } }
        let same = sameBytes(apply(updates, size: source.size), expectedImage(source, runs))
        #expect(same)
        // Uncorked, the same two are two writes.
        let uncorked = link.loopWrites
        link.sendUpdate(channel: 3, resource: 7, base: source.pointer, runs: runs, owner: source)
        link.send(.creditRequest(channel: 4))
        #expect(link.loopWrites == uncorked + 2)
    }

    /// A large update inside `corked` is written at once, as outside: the
    /// queue never holds megabytes only because a flush was put off.
    @Test func aLargeUpdateIsWrittenAtOnceEvenWhileCorked() throws {
        var rng = SplitMix64(seed: 12)
        let size = 3_000_000
        let source = Source(size: size, using: &rng)
        let loop = try EventLoop()
        let (link, peer) = try openGuestLink(loop)
        let before = link.loopWrites
        link.corked {
            link.sendUpdate(channel: 1, resource: 1, base: source.pointer, runs: [UpdateRun(offset: 0, length: size)], owner: source)
            #expect(link.loopWrites > before, "written before the cork ends")
            #expect(link.queuedBytes < size)
        }
        // Every byte has reached the peer (not only the socket).
        let received = { peer.frames.reduce(0) { n, f in if case .resourceUpdate(_, _, _, let b) = f { n + b.count } else { n } } }
        #expect(try runLoop(loop) { link.queuedBytes == 0 && received() == size })
        let updates = peer.frames.filter { if case .resourceUpdate = $0 { true } else { false } }
        let same = sameBytes(apply(updates, size: size), source.bytes)
        #expect(same)
    }

    /// With a writer thread, detach also waits for a write reading the memory.
    @Test(arguments: [false, true])
    func detachCopiesQueuedReferencesBeforeTheMemoryChanges(writer: Bool) throws {
        var rng = SplitMix64(seed: 6)
        // More than the socket buffers hold (the link asks for 4 MiB).
        let size = 12_000_000
        let source = Source(size: size, using: &rng)
        let original = source.bytes
        let loop = try EventLoop()
        let (link, peer) = try openGuestLink(loop, writer: writer)
        peer.stopReading()
        let runs = [UpdateRun(offset: 0, length: size)]
        link.sendUpdate(channel: 1, resource: 1, base: source.pointer, runs: runs, owner: source)
        #expect(link.queuedBytes > 1_000_000, "the peer is not reading: most of it is still queued")
        link.detach(source)
        // The producer now changes its memory; what was sent must not change.
        source.pointer.initializeMemory(as: UInt8.self, repeating: 0xEE, count: size)
        // More frames after the detached ones still go out in order.
        link.send(.creditRequest(channel: 1))
        try peer.startReading()
        #expect(try runLoop(loop) { link.queuedBytes == 0 && peer.frames.last == .creditRequest(channel: 1) })
        let updates = peer.frames.filter { if case .resourceUpdate = $0 { true } else { false } }
        let same2 = sameBytes(apply(updates, size: size), original)
        #expect(same2)
    }

    /// The update frames arrive in pieces of random sizes, one piece per loop
    /// tick; every byte ends up in the target, nothing arrives as a frame.
    /// With a receive thread, it stops and gives the link back whenever
    /// the pieces pause.
    @Test(arguments: [UInt64(1), 2, 3], [0, 1])
    func updatesAreReceivedStraightIntoTheTarget(seed: UInt64, receiveThreads: Int) throws {
        var rng = SplitMix64(seed: seed)
        let size = 3_200_000
        let source = Source(size: size, using: &rng)
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        let sender = try LinkEndpoint(socket: a, role: .guest, name: "g", loop: loop, delegate: nil)
        // Capture what the sender writes, to replay it in random pieces.
        let capture = try RawPeer(socket: b, loop: loop)
        capture.sendHello(role: .host)
        #expect(try runLoop(loop) { sender.isOpen })
        let runs = mixedRuns(size: size)
        sender.sendUpdate(channel: 1, resource: 2, base: source.pointer, runs: runs, owner: source)
        sender.send(.creditRequest(channel: 1))
        #expect(try runLoop(loop) { capture.frames.last == .creditRequest(channel: 1) })
        var stream = FrameCodec.encode(.hello(version: 1, role: .guest, features: 0))
        for f in capture.frames.dropFirst() { stream += FrameCodec.encode(f) }

        let (c, d) = try Socket.pair()
        let recorder = TargetRecorder(size: size)
        let receiver = try LinkEndpoint(socket: c, role: .host, name: "h", loop: loop, delegate: recorder)
        let threads = ReceiveThreads(loop: loop, count: receiveThreads)
        defer { threads.stop() }
        receiver.receiveThreads = threads
        let peer = try RawPeer(socket: d, loop: loop)
        var at = 0
        let feeder = try loop.addTimer(nanoseconds: 100_000) {
            guard at < stream.count else { return }
            let n = min(stream.count - at, [1, 7, 100, 5000, 70_000, 400_000].randomElement(using: &rng)!)
            // Only what the socket takes now: the reader runs on this thread.
            let written = stream.withUnsafeBytes { write(peer.socket.rawValue, $0.baseAddress! + at, n) }
            if written > 0 { at += written }
        }
        #expect(try runLoop(loop, timeout: 30) { recorder.frames.last == .creditRequest(channel: 1) || !recorder.closes.isEmpty })
        loop.unregister(feeder)
        #expect(recorder.closes.isEmpty)
        #expect(recorder.frames == [.creditRequest(channel: 1)], "updates went to the target, not through received(frame)")
        let updateCount = capture.frames.filter { if case .resourceUpdate = $0 { true } else { false } }.count
        #expect(recorder.completed == updateCount)
        #expect(recorder.copied + recorder.direct == runs.reduce(0) { $0 + $1.length })
        let same3 = sameBytes(recorder.bytes, expectedImage(source, runs))
        #expect(same3)
        #expect(receiver.receivedBytes == UInt64(stream.count))
        #expect(receiveThreads == 0 || threads.jobs > 0, "some data went to the receive thread")
    }

    @Test func aRangeTheTargetRefusesEndsTheLinkBeforeAnyDataIsWritten() throws {
        let loop = try EventLoop()
        let recorder = TargetRecorder(size: 1000)
        let (receiver, peer) = try openHostLink(loop, delegate: recorder)
        peer.send(.resourceUpdate(channel: 1, resource: 1, ranges: [UpdateRange(offset: 900, length: 200)], bytes: [UInt8](repeating: 9, count: 200)))
        #expect(try runLoop(loop) { receiver.isClosed })
        #expect(receiver.closedByProtocolError)
        #expect(recorder.bytes.allSatisfy { $0 == 0 })
        #expect(recorder.completed == 0)
    }

    @Test func rangesThatDoNotCoverTheDataEndTheLink() throws {
        let loop = try EventLoop()
        let recorder = TargetRecorder(size: 1000)
        let (receiver, peer) = try openHostLink(loop, delegate: recorder)
        // Two ranges of 10 bytes, 25 bytes of data.
        var payload: [UInt8] = []
        payload.le32(1); payload.le32(2)
        payload.le64(0); payload.le32(10); payload.le32(0)
        payload.le64(10); payload.le32(10); payload.le32(0)
        payload += [UInt8](repeating: 1, count: 25)
        peer.send(rawFrame(type: FrameType.resourceUpdate.rawValue, channel: 1, payload: payload))
        #expect(try runLoop(loop) { receiver.isClosed })
        #expect(receiver.closedByProtocolError)
        #expect(recorder.asked.isEmpty, "the decoder's checks come before the delegate is asked")
        #expect(recorder.bytes.allSatisfy { $0 == 0 })
    }

    @Test func aDelegateWithoutTargetGetsTheWholeFrame() throws {
        let loop = try EventLoop()
        let recorder = TargetRecorder(size: 1000)
        recorder.declines = true
        let (receiver, peer) = try openHostLink(loop, delegate: recorder)
        let frame = LinkFrame.resourceUpdate(channel: 4, resource: 5, ranges: [UpdateRange(offset: 3, length: 4)], bytes: [1, 2, 3, 4])
        peer.send(frame)
        #expect(try runLoop(loop) { recorder.frames.count == 1 })
        #expect(recorder.frames == [frame])
        #expect(recorder.asked.first?.channel == 4 && recorder.asked.first?.resource == 5)
        #expect(recorder.bytes.allSatisfy { $0 == 0 })
        #expect(!receiver.isClosed)
    }

    @Test func aDelegateErrorForAnUpdateEndsTheLink() throws {
        let loop = try EventLoop()
        let recorder = TargetRecorder(size: 1000)
        recorder.refusal = .unknownResource(channel: 1, resource: 9)
        let (receiver, peer) = try openHostLink(loop, delegate: recorder)
        peer.send(.resourceUpdate(channel: 1, resource: 9, ranges: [UpdateRange(offset: 0, length: 4)], bytes: [1, 2, 3, 4]))
        #expect(try runLoop(loop) { receiver.isClosed })
        #expect(receiver.closedByProtocolError)
        #expect(recorder.bytes.allSatisfy { $0 == 0 })
    }

    /// A peer killed in the middle of an update being received into place:
    /// the close reason counts the bytes of it that did arrive.
    /// With a receive thread, which sees the end first and gives the link back.
    @Test(arguments: [0, 1])
    func aPeerGoneInTheMiddleOfAnUpdateReportsThePartialFrame(receiveThreads: Int) throws {
        let loop = try EventLoop()
        let recorder = TargetRecorder(size: 1 << 20)
        let (receiver, peer, threads) = try openedHostLink(loop, delegate: recorder, receiveThreads: receiveThreads)
        defer { threads.stop() }
        let frame = FrameCodec.encode(.resourceUpdate(channel: 1, resource: 1, ranges: [UpdateRange(offset: 0, length: 500_000)],
                                                     bytes: [UInt8](repeating: 7, count: 500_000)))
        let cut = 300_000
        var at = 0
        // In pieces, so that some of it is received straight into the target.
        while at < cut {
            let n = min(cut - at, 50_000)
            peer.send(Array(frame[at..<(at + n)]))
            at += n
            try loop.addTimer(nanoseconds: 2_000_000, repeating: false) { [unowned loop] in loop.stop() }
            try runLoop(loop)
        }
        peer.close()
        #expect(try runLoop(loop) { receiver.isClosed })
        #expect(recorder.closes.last?.contains("in the middle of a frame (\(cut) bytes of it dropped)") == true, "\(recorder.closes)")
        #expect(recorder.completed == 0)
        #expect(!receiver.closedByProtocolError)
        #expect(receiveThreads == 0 || threads.jobs > 0, "part of it went to the receive thread")
    }

    /// Updates of one resource, a frame of another kind, more updates: the
    /// first run is whole in memory when that frame is handled, though a
    /// receive thread took it, and the link's counts add up.
    @Test func aFrameAfterUpdatesOnAReceiveThreadIsHandledAfterThem() throws {
        var rng = SplitMix64(seed: 9)
        let size = 8_000_000
        let source = Source(size: size, using: &rng)
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        let sender = try LinkEndpoint(socket: a, role: .guest, name: "g", loop: loop, delegate: nil)
        let recorder = TargetRecorder(size: size)
        let receiver = try LinkEndpoint(socket: b, role: .host, name: "h", loop: loop, delegate: recorder)
        let threads = ReceiveThreads(loop: loop, count: 1)
        defer { threads.stop() }
        receiver.receiveThreads = threads
        #expect(try runLoop(loop) { sender.isOpen && receiver.isOpen })
        var imageAtCredit: Bool?
        recorder.onFrame = { frame in
            if frame == .creditRequest(channel: 1) {
                imageAtCredit = sameBytes(Array(recorder.bytes[0..<4_000_000]), Array(source.bytes[0..<4_000_000]))
            }
        }
        sender.sendUpdate(channel: 1, resource: 2, base: source.pointer, runs: [UpdateRun(offset: 0, length: 4_000_000)], owner: source)
        sender.send(.creditRequest(channel: 1))
        sender.sendUpdate(channel: 1, resource: 2, base: source.pointer, runs: [UpdateRun(offset: 4_000_000, length: 4_000_000)], owner: source)
        sender.send(.creditRequest(channel: 2))
        // sendUpdate's frames carry one range each here; the hello and two credit requests besides.
        let perFrame = LinkEndpoint.updateFrameData - 8 - 16
        let updates = 2 * ((4_000_000 + perFrame - 1) / perFrame)
        // (The second request, of a quiet channel, may overtake the second run.)
        #expect(try runLoop(loop) { (recorder.frames.count == 2 && recorder.completed == updates) || !recorder.closes.isEmpty })
        #expect(recorder.closes.isEmpty)
        #expect(imageAtCredit == true, "the first 4 MB were in place when the frame after them was handled")
        let same4 = sameBytes(recorder.bytes, source.bytes)
        #expect(same4)
        #expect(threads.jobs >= 2)
        #expect(receiver.receivedBytes == sender.sentBytes)
        #expect(recorder.direct + recorder.copied == size)

        #expect(receiver.receivedFrames == UInt64(updates + 3))
    }

    /// Closing a link whose update is on a receive thread waits for the
    /// thread to stop reading and writing (at its next read), and is quick.
    @Test func closingALinkWithAnUpdateOnAReceiveThreadStopsTheThreadFirst() throws {
        let loop = try EventLoop()
        let recorder = TargetRecorder(size: 1 << 20)
        let (receiver, peer, threads) = try openedHostLink(loop, delegate: recorder, receiveThreads: 1)
        defer { threads.stop() }
        let frame = FrameCodec.encode(.resourceUpdate(channel: 1, resource: 1, ranges: [UpdateRange(offset: 0, length: 900_000)],
                                                     bytes: [UInt8](repeating: 7, count: 900_000)))
        // Half of it, then a pause shorter than the thread waits for more.
        peer.send(Array(frame[0..<200_000]))
        #expect(try runLoop(loop) { threads.jobs == 1 })
        let start = MonotonicClock.nanoseconds()
        receiver.close(reason: "test")
        let took = MonotonicClock.nanoseconds() - start
        #expect(receiver.isClosed)
        #expect(took < 50_000_000, "closing took \(took) ns")
        #expect(recorder.completed == 0)
    }

    /// With a writer thread, a small frame of a quiet channel queued while
    /// megabytes of another channel go out still goes ahead of most of
    /// them, and every channel's frames keep their order.
    @Test func aWriterThreadKeepsEachChannelsOrderAndLetsSmallFramesAhead() throws {
        var rng = SplitMix64(seed: 11)
        let size = 12_000_000
        let source = Source(size: size, using: &rng)
        let loop = try EventLoop()
        let (link, peer) = try openGuestLink(loop, writer: true)
        peer.stopReading()
        link.sendUpdate(channel: 1, resource: 1, base: source.pointer, runs: [UpdateRun(offset: 0, length: size)], owner: source)
        link.send(.creditRequest(channel: 1))
        for k in 0..<5 { link.send(.data(channel: 2, credit: .init(bufAlloc: 1, fwdCnt: 0), resources: [], bytes: [UInt8(k)])) }
        try peer.startReading()
        #expect(try runLoop(loop) { link.queuedBytes == 0 && peer.frames.filter { $0.channel == 2 }.count == 5 && peer.frames.contains(.creditRequest(channel: 1)) })
        let order = peer.frames.dropFirst()   // the hello
        let updates = order.enumerated().filter { if case .resourceUpdate = $0.element { true } else { false } }
        let smalls = order.enumerated().filter { $0.element.channel == 2 }
        #expect(smalls.map(\.element) == (0..<5).map { LinkFrame.data(channel: 2, credit: .init(bufAlloc: 1, fwdCnt: 0), resources: [], bytes: [UInt8($0)]) })
        #expect(order.last == .creditRequest(channel: 1), "the credit request follows its channel's update")
        // The small frames were queued after all 12 MB: with the writer
        // busy, they went out after at most the bytes it had in hand.
        let before = updates.filter { $0.offset < smalls.first!.offset }.count
        #expect(before < updates.count / 2, "\(before) of \(updates.count) update frames went ahead of the small ones")
        let same = sameBytes(apply(updates.map(\.element), size: size), source.bytes)
        #expect(same)
        link.close(reason: "done")
    }

    /// Closing a guest link whose writer waits for room stops the thread.
    @Test func closingALinkWhoseWriterWaitsForRoomIsQuick() throws {
        var rng = SplitMix64(seed: 12)
        let source = Source(size: 8_000_000, using: &rng)
        let loop = try EventLoop()
        let (link, peer) = try openGuestLink(loop, writer: true)
        peer.stopReading()
        link.sendUpdate(channel: 1, resource: 1, base: source.pointer, runs: [UpdateRun(offset: 0, length: 8_000_000)], owner: source)
        usleep(20_000)
        #expect(link.queuedBytes > 4_000_000, "the peer reads nothing: most of it is still queued")
        // A close that waited for the writer to get room would never return
        // (the peer reads nothing): 2 s tells that from a prompt close even
        // under the sanitizers on a busy machine (63 ms seen there once,
        // against a bound of 50 ms then).
        let start = MonotonicClock.nanoseconds()
        link.close(reason: "test")
        #expect(MonotonicClock.nanoseconds() - start < 2_000_000_000)
        #expect(link.isClosed)
    }

    /// A guest link and a raw host peer on a socket pair, handshake done.
    private func openGuestLink(_ loop: EventLoop, writer: Bool = false) throws -> (LinkEndpoint, RawPeer) {
        let (a, b) = try Socket.pair()
        let link = try LinkEndpoint(socket: a, role: .guest, name: "g", loop: loop, delegate: nil)
        if writer { try link.startWriter(roomBelow: 1 << 20) }
        let peer = try RawPeer(socket: b, loop: loop)
        peer.sendHello(role: .host)
        #expect(try runLoop(loop) { link.isOpen })
        return (link, peer)
    }

    /// A host link with `receiveThreads` receive threads (the caller stops
    /// them), delivering to `delegate`, and a raw guest peer; handshake done.
    private func openedHostLink(_ loop: EventLoop, delegate: TargetRecorder, receiveThreads: Int) throws -> (LinkEndpoint, RawPeer, ReceiveThreads) {
        let (c, d) = try Socket.pair()
        let receiver = try LinkEndpoint(socket: c, role: .host, name: "h", loop: loop, delegate: delegate)
        let threads = ReceiveThreads(loop: loop, count: receiveThreads)
        receiver.receiveThreads = threads
        let peer = try RawPeer(socket: d, loop: loop)
        peer.sendHello(role: .guest)
        #expect(try runLoop(loop) { receiver.isOpen })
        return (receiver, peer, threads)
    }

    /// A host link delivering to `delegate` and a raw guest peer that has sent its hello.
    private func openHostLink(_ loop: EventLoop, delegate: TargetRecorder) throws -> (LinkEndpoint, RawPeer) {
        let (c, d) = try Socket.pair()
        let receiver = try LinkEndpoint(socket: c, role: .host, name: "h", loop: loop, delegate: delegate)
        let peer = try RawPeer(socket: d, loop: loop)
        peer.sendHello(role: .guest)
        return (receiver, peer)
    }
}
