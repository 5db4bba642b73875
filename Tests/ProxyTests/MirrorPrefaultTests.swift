import BufferService
import Glibc
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// A stream window's mirror is faulted in on a thread of its own while its
/// first commits go by reference, so that the copy that ends the blind run
/// does not fault 8100 pages in on the loop (`MirrorPrefaulter`).
@Suite("Stream mirrors faulted in ahead of their first copy") struct MirrorPrefaultTests {
    typealias Window = SlicedSyncTests.Window
    typealias Blocker = RegionCopyThreadTests.Blocker

    /// Pages of `count` bytes at `base` the kernel backs now (mincore).
    static func residentPages(_ base: UnsafeMutableRawPointer, count: Int) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (count + page - 1) / page)
        guard mincore(base, count, &vector) == 0 else { return -1 }
        return vector.filter { $0 & 1 != 0 }.count
    }

    /// Turns `loop` until `condition` holds or 10 s pass.
    static func turn(_ loop: EventLoop, until condition: () -> Bool) -> Bool {
        let deadline = MonotonicClock.nanoseconds() + 10_000_000_000
        while !condition() && MonotonicClock.nanoseconds() < deadline { _ = loop.runOnce(timeout: 0.05) }
        return condition()
    }

    /// A loop, stats, a prefaulter on a worker of its own and a fresh anonymous mirror of `size` bytes.
    static func fixture(size: Int) throws -> (EventLoop, ProxyStats, MirrorPrefaulter, SharedMapping) {
        let loop = try EventLoop()
        let stats = ProxyStats()
        let prefaulter = MirrorPrefaulter(worker: try BackgroundWorker(loop: loop, name: "test-prefault"), stats: stats)
        return (loop, stats, prefaulter, try SharedMapping(anonymous: size))
    }

    @Test("a span of 1 MiB or more is faulted in off the loop and counted once done; a smaller one is left to fault")
    func populatesLargeSpans() throws {
        let size = 4 << 20, page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let (loop, stats, prefaulter, mirror) = try Self.fixture(size: size)
        let base = try #require(mirror.base)
        #expect(Self.residentPages(base, count: size) == 0, "fresh anonymous memory is backed before any touch")
        #expect(prefaulter.start(mirror, span: 0..<(MirrorPrefaulter.minimumBytes - page)) == nil)
        let job = try #require(prefaulter.start(mirror, span: (1 << 20)..<(3 << 20)))
        #expect(Self.turn(loop) { !prefaulter.isPending(job) })
        #expect(stats.mirrorBytesPrefaulted == 2 << 20)
        #expect(Self.residentPages(base + (1 << 20), count: 2 << 20) == (2 << 20) / page, "the span is not all backed")
        #expect(Self.residentPages(base, count: 1 << 20) == 0 && Self.residentPages(base + (3 << 20), count: 1 << 20) == 0,
                "pages outside the span were backed")
        #expect(prefaulter.pending == 0)
    }

    @Test("a span that starts inside a page (a second buffer of a pool whose buffers are no multiple of a page) is faulted in from that page on")
    func populatesAnUnalignedSpan() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let (loop, stats, prefaulter, mirror) = try Self.fixture(size: 8 << 20)
        let base = try #require(mirror.base)
        // 1366x768 XRGB: 4196352 bytes, the second buffer 2048 bytes into a page.
        let span = 4_196_352..<(2 * 4_196_352 - 8192)
        let job = try #require(prefaulter.start(mirror, span: span))
        #expect(Self.turn(loop) { !prefaulter.isPending(job) })
        #expect(stats.mirrorBytesPrefaulted == UInt64(span.count), "the job failed (an unaligned madvise is EINVAL)")
        let first = span.lowerBound / page * page
        let pages = (span.upperBound - first + page - 1) / page
        #expect(Self.residentPages(base + first, count: pages * page) == pages, "the span is not all backed")
        #expect(Self.residentPages(base, count: first) == 0, "pages before the span's first were backed")
    }

    @Test("a span outside the mapping is refused, and at most four jobs wait at once")
    func refusesBeyondItsBounds() throws {
        let loop = try EventLoop()
        let prefaulter = MirrorPrefaulter(worker: try BackgroundWorker(loop: loop, name: "test-prefault"), stats: ProxyStats())
        let mirror = try SharedMapping(anonymous: 2 << 20)
        #expect(prefaulter.start(mirror, span: (1 << 20)..<(3 << 20)) == nil)
        let blocker = Blocker()
        blocker.hold(prefaulter.worker)
        let jobs = (0..<MirrorPrefaulter.maxPending).compactMap { _ in prefaulter.start(mirror, span: 0..<(2 << 20)) }
        #expect(jobs.count == MirrorPrefaulter.maxPending)
        #expect(prefaulter.start(mirror, span: 0..<(2 << 20)) == nil, "a fifth job was queued")
        blocker.release()
        #expect(Self.turn(loop) { prefaulter.pending == 0 })
        #expect(prefaulter.start(mirror, span: 0..<(2 << 20)) != nil, "no job taken once the others were done")
    }

    @Test("a mirror its pool lets go of while its job waits stays mapped until the job is done")
    func mappingOutlivesItsJob() throws {
        let loop = try EventLoop()
        let prefaulter = MirrorPrefaulter(worker: try BackgroundWorker(loop: loop, name: "test-prefault"), stats: ProxyStats())
        let blocker = Blocker()
        blocker.hold(prefaulter.worker)
        var held = true
        // A failed requirement must not leave the worker held: its stop would wait for ever.
        defer { if held { blocker.release() } }
        weak var released: SharedMapping?
        let job: BackgroundWorker.Ticket? = try {
            let mirror = try SharedMapping(anonymous: 2 << 20)
            released = mirror
            return prefaulter.start(mirror, span: 0..<(2 << 20))
        }()
        let ticket = try #require(job)
        #expect(released != nil, "the mirror was unmapped under its waiting job")
        blocker.release()
        held = false
        #expect(Self.turn(loop) { !prefaulter.isPending(ticket) })
        #expect(released == nil, "the job's completion kept the mirror")
    }

    /// A guest proxy and an 8 MiB window whose pool file is sealed against
    /// shrinking (so its blind commits may go by reference), drawn twice:
    /// compared, then by reference.
    func setUp(copyThread: Bool = true) throws -> (InProcessHost, InProcessGuest, Window) {
        let h = try InProcessHost()
        let gp = try InProcessGuest(host: h, copyThread: copyThread)
        let w = try Window(gp, width: 2048, height: 1024, name: "video")
        try Memfd.addSeals(w.file, [.shrink])
        for frame in UInt8(1)...2 {
            w.draw(frame)
            try #require(h.pump(timeout: 20) { w.commits == Int(frame) }, "frame \(frame) did not arrive")
        }
        return (h, gp, w)
    }

    @Test("a window's first commit by reference faults its buffer's span of the mirror in, once, and the frame that ends the blind run arrives whole")
    func blindRunPrefaultsTheMirror() throws {
        let (h, gp, w) = try setUp()
        defer { gp.tearDown() }
        let bytes = w.width * w.height * 4
        #expect(h.pump(timeout: 10) { gp.guest.stats.mirrorBytesPrefaulted == UInt64(bytes) },
                "prefaulted \(gp.guest.stats.mirrorBytesPrefaulted) bytes of a \(bytes)-byte buffer")
        // The blind run (15 commits after the compared one) ends with a copy
        // into the mirror, then a compared commit: every frame whole.
        for frame in UInt8(3)...20 {
            w.draw(frame)
            try #require(h.pump(timeout: 20) { w.commits == Int(frame) }, "frame \(frame) did not arrive")
            let host = try LaneCopyThreadTests().hostBytes(w)
            #expect(host.allSatisfy { $0 == frame }, "frame \(frame) is not whole on the host")
        }
        #expect(gp.guest.stats.mirrorBytesPrefaulted == UInt64(bytes), "the same span was faulted in again")
    }

    /// Presents all of `image` (producer object 4), repainted each time,
    /// `times` times; each present's bytes must reach the consumer's view,
    /// which releases it.
    static func presentWhole(_ image: ProducerImage, times: UInt32, producer: WaylandTestClient, consumer: WaylandTestClient,
                             view: PortholeBufferSubscriptionV1BufferAdded, file: OwnedFD, pump: (() -> Bool) -> Bool) throws {
        for sequence in UInt32(1)...times {
            image.fill { _ in UInt8(truncatingIfNeeded: sequence + 1) }
            producer.send(PortholeBufferV1Update(x: 0, y: 0, width: Int32(image.width), height: Int32(image.height)), on: 4)
            producer.send(PortholeBufferV1Present(sequence: sequence, renderUsec: 0), on: 4)
            try #require(pump { consumer.events(PortholeBufferViewV1Updated.self, on: view.buffer).count == Int(sequence) },
                         "present \(sequence) did not arrive")
            #expect(try consumerBytes(file, offset: Int(view.offset), size: image.size) == image.bytes, "present \(sequence)'s bytes")
            consumer.send(PortholeBufferViewV1Release(sequence: sequence), on: view.buffer)
        }
    }

    @Test("a buffer producer's buffer presented whole, again and again, is faulted in ahead too, and the consumer sees every present's bytes")
    func producerBuffersArePrefaulted() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let consumer = try rig.consumer()
        let producer = try rig.producer()
        let image = try ProducerImage(width: 1024, height: 1024)
        try Memfd.addSeals(image.fd, [.shrink])
        image.fill { _ in 1 }
        try image.publish(on: producer)
        try #require(rig.pump { consumer.addedViews().count == 1 }, "no buffer_added")
        let (added, fd) = consumer.addedViews()[0]
        let file = try #require(fd)
        try Self.presentWhole(image, times: 18, producer: producer, consumer: consumer, view: added, file: file) { rig.pump(timeout: 20, $0) }
        #expect(rig.g.guest.stats.mirrorBytesPrefaulted == UInt64(image.size), "\(rig.g.guest.stats.mirrorBytesPrefaulted) bytes faulted in")
    }

    @Test("a host buffer presented whole to a guest's consumer is faulted in ahead on the host, off the loop all guests share, and the guest sees every present's bytes")
    func hostViewsArePrefaulted() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        rig.service.guestAccess = [GuestBufferAccess(application: "camera", guest: GuestToGuestRig.nameB)]
        let producer = try rig.hostProducer()
        let image = try ProducerImage(width: 1024, height: 1024)
        image.fill { _ in 1 }
        try image.publish(on: producer)
        let consumer = try rig.consumer(in: rig.b)
        consumer.send(PortholeBufferConsumerV1Subscribe(id: 4, application: Array("camera".utf8), guest: nil), on: 3)
        try #require(rig.pump { consumer.addedViews().count == 1 }, "the guest's consumer sees no host camera")
        let (added, fd) = consumer.addedViews()[0]
        let file = try #require(fd)
        try #require(rig.pump { consumer.events(PortholeBufferViewV1Done.self, on: added.buffer).count == 1 })
        try Self.presentWhole(image, times: 18, producer: producer, consumer: consumer, view: added, file: file) { rig.pump(timeout: 20, $0) }
        #expect(rig.h.host.stats.mirrorBytesPrefaulted == UInt64(image.size), "\(rig.h.host.stats.mirrorBytesPrefaulted) bytes faulted in on the host")
    }

    @Test("without the copy thread nothing is faulted in ahead")
    func noThreadNoPrefault() throws {
        let (h, gp, w) = try setUp(copyThread: false)
        defer { gp.tearDown() }
        w.draw(3)
        try #require(h.pump(timeout: 20) { w.commits == 3 })
        #expect(gp.guest.prefaulter == nil && gp.guest.stats.mirrorBytesPrefaulted == 0)
    }

    @Test("a pool that grows while its mirror is being faulted in waits for the job, and its frames arrive whole after")
    func growWaitsForTheJob() throws {
        let h = try InProcessHost()
        let gp = try InProcessGuest(host: h)
        defer { gp.tearDown() }
        let w = try Window(gp, width: 2048, height: 1024, name: "video")
        try Memfd.addSeals(w.file, [.shrink])
        w.draw(1)
        try #require(h.pump(timeout: 20) { w.commits == 1 })
        let prefaulter = try #require(gp.guest.prefaulter)
        let blocker = Blocker()
        blocker.hold(prefaulter.worker)
        var held = true
        defer { if held { blocker.release() } }
        w.draw(2)
        try #require(h.pump(timeout: 20) { w.commits == 2 })
        #expect(prefaulter.pending == 1, "the by-reference commit started no job")
        // The pool grows while the job waits behind the blocker: the guest
        // proxy's loop waits for it (let go from another thread).
        let size = w.width * w.height * 4
        #expect(ftruncate(w.file.rawValue, off_t(2 * size)) == 0)
        blocker.releaseSoon()
        held = false
        w.client.send(WlShmPoolResize(size: Int32(2 * size)), on: 6)
        try #require(h.pump(timeout: 20) { !w.compositor.messages(named: "wl_shm_pool.resize").isEmpty }, "the resize did not arrive")
        // Passed on only after the grow, which waited for the job (without
        // the wait the job would still be held, for 50 ms, and then run on
        // memory no longer the mirror's).
        #expect(prefaulter.pending == 0, "the mirror moved while its job waited")
        for frame in UInt8(3)...6 {
            w.draw(frame)
            try #require(h.pump(timeout: 20) { w.commits == Int(frame) }, "frame \(frame) did not arrive")
            let host = try LaneCopyThreadTests().hostBytes(w)
            #expect(host.allSatisfy { $0 == frame }, "frame \(frame) is not whole on the host")
        }
        // Both jobs done: the one before the grow and one after it.
        #expect(prefaulter.pending == 0 && gp.guest.stats.mirrorBytesPrefaulted == UInt64(2 * size), "\(gp.guest.stats.mirrorBytesPrefaulted) bytes faulted in")
        #expect(gp.guest.stats.clientErrors == 0)
    }
}
