import BufferService
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// Consumers of the host's buffer service: routing by application and
/// guest, release and wait-for-release with several consumers, eviction,
/// and every check on what a consumer sends (docs/buffer-sharing.md §2, §5).
@Suite("Buffer sharing: consumers") struct ConsumerTests {
    static let tooSlow = ConsumerErrorCode.tooSlow.rawValue

    /// A rig with a producer that published a 16x16 buffer (id 4).
    static func published(_ rig: BufferSharingRig, application: String = "camera") throws -> WaylandTestClient {
        let producer = try rig.producer()
        try ProducerImage(width: 16, height: 16).publish(on: producer, application: application)
        return producer
    }

    static func present(_ producer: WaylandTestClient, _ sequence: UInt32) {
        producer.send(PortholeBufferV1Present(sequence: sequence, renderUsec: 0), on: 4)
    }

    static func released(_ producer: WaylandTestClient) -> [UInt32] { producer.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) }

    @Test func buffersGoToSubscriptionsOfTheirApplicationAndGuestOnly() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let mine = try rig.consumer(application: "camera", guest: "guest")
        let otherGuest = try rig.consumer(application: "camera", guest: "guest-9")
        let otherApplication = try rig.consumer(application: "video")
        _ = try Self.published(rig)
        try #require(rig.pump { mine.addedViews().count == 1 })
        rig.h.settle()
        #expect(otherGuest.addedViews().isEmpty && otherApplication.addedViews().isEmpty)
        #expect(otherGuest.events(PortholeBufferSubscriptionV1GuestConnected.self, on: 4).isEmpty, "guest_connected of a guest not subscribed to")
        #expect(otherApplication.events(PortholeBufferSubscriptionV1GuestConnected.self, on: 4).count == 1)
    }

    @Test func everyApplicationMatchesStarAndTheBuffersIdIsTheSameForEveryConsumer() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let star = try rig.consumer(application: "*"), camera = try rig.consumer(application: "camera")
        let producer = try Self.published(rig)
        try ProducerImage(width: 8, height: 8).publish(on: producer, id: 5, application: "video")
        try #require(rig.pump { star.addedViews().count == 2 && camera.addedViews().count == 1 })
        let ids = star.addedViews().map(\.event.id)
        #expect(Set(ids).count == 2)
        #expect(star.addedViews().map { String(decoding: $0.event.application, as: UTF8.self) } == ["camera", "video"])
        #expect(camera.addedViews()[0].event.id == ids[0])
    }

    @Test func aLateSubscriberGetsTheBuffersAlreadyPublished() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        _ = try Self.published(rig)
        try #require(rig.pump { rig.h.host.bufferService?.counters.buffers == 1 })
        rig.h.settle()
        let late = try rig.consumer()
        #expect(rig.pump { late.addedViews().count == 1 })
        let view = late.addedViews()[0].event.buffer
        #expect(rig.pump { late.events(PortholeBufferViewV1Property.self, on: view).count == 4 && !late.events(PortholeBufferViewV1Done.self, on: view).isEmpty })
    }

    @Test func theProducerHearsReleasedOnlyOnceEveryConsumerReleased() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let a = try rig.consumer(), b = try rig.consumer()
        let producer = try Self.published(rig)
        try #require(rig.pump { a.addedViews().count == 1 && b.addedViews().count == 1 })
        let va = a.addedViews()[0].event.buffer, vb = b.addedViews()[0].event.buffer
        Self.present(producer, 1)
        try #require(rig.pump { !a.events(PortholeBufferViewV1Updated.self, on: va).isEmpty && !b.events(PortholeBufferViewV1Updated.self, on: vb).isEmpty })
        a.send(PortholeBufferViewV1Release(sequence: 1), on: va)
        rig.h.settle()
        #expect(Self.released(producer).isEmpty, "released while b still holds it")
        b.send(PortholeBufferViewV1Release(sequence: 1), on: vb)
        #expect(rig.pump { Self.released(producer) == [1] })
    }

    @Test func releasingASequenceReleasesTheEarlierOnesInOrder() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let c = try rig.consumer()
        let producer = try Self.published(rig)
        try #require(rig.pump { c.addedViews().count == 1 })
        let view = c.addedViews()[0].event.buffer
        for s: UInt32 in [3, 5, 8] { Self.present(producer, s) }
        try #require(rig.pump { c.events(PortholeBufferViewV1Updated.self, on: view).count == 3 })
        c.send(PortholeBufferViewV1Release(sequence: 5), on: view)
        #expect(rig.pump { Self.released(producer) == [3, 5] })
        c.send(PortholeBufferViewV1Release(sequence: 8), on: view)
        #expect(rig.pump { Self.released(producer) == [3, 5, 8] })
    }

    @Test(arguments: [(UInt32(2), "sequence 2 was not sent to this view"), (1, "sequence 1 was not sent to this view or is released already")])
    func aReleaseOfSomethingNotHeldClosesThatConsumerOnly(_ sequence: UInt32, _ fragment: String) throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let bad = try rig.consumer(), good = try rig.consumer()
        let producer = try Self.published(rig)
        try #require(rig.pump { bad.addedViews().count == 1 && good.addedViews().count == 1 })
        let view = bad.addedViews()[0].event.buffer, goodView = good.addedViews()[0].event.buffer
        Self.present(producer, 1)
        try #require(rig.pump { !bad.events(PortholeBufferViewV1Updated.self, on: view).isEmpty })
        if sequence == 1 { bad.send(PortholeBufferViewV1Release(sequence: 1), on: view) }
        bad.send(PortholeBufferViewV1Release(sequence: sequence), on: view)
        #expect(rig.pump { bad.sawEOF })
        #expect(bad.displayError?.object == view && bad.displayError?.code == ViewErrorCode.badRelease.rawValue
                && bad.displayError?.message.contains(fragment) == true, "\(String(describing: bad.displayError))")
        // The producer and the other consumer carry on.
        good.send(PortholeBufferViewV1Release(sequence: 1), on: goodView)
        #expect(rig.pump { Self.released(producer) == [1] })
        #expect(rig.h.host.bufferService?.counters.consumers == 1)
    }

    @Test func aViewIdThatIsNotAViewClosesTheConsumer() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let c = try rig.consumer()
        c.send(PortholeBufferViewV1Release(sequence: 1), on: 0xFF00_0099)
        #expect(rig.pump { c.sawEOF })
        #expect(c.displayError?.message.contains("invalid object 4278190233") == true, "\(String(describing: c.displayError))")
    }

    @Test func aReleaseAfterRemovedIsIgnoredAndADestroyedViewHoldsNothing() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let keeper = try rig.consumer(), leaver = try rig.consumer()
        let producer = try Self.published(rig)
        try #require(rig.pump { keeper.addedViews().count == 1 && leaver.addedViews().count == 1 })
        let kv = keeper.addedViews()[0].event.buffer, lv = leaver.addedViews()[0].event.buffer
        Self.present(producer, 1)
        try #require(rig.pump { !keeper.events(PortholeBufferViewV1Updated.self, on: kv).isEmpty && !leaver.events(PortholeBufferViewV1Updated.self, on: lv).isEmpty })
        leaver.send(PortholeBufferViewV1Destroy(), on: lv)
        rig.h.settle()
        #expect(Self.released(producer).isEmpty)
        keeper.send(PortholeBufferViewV1Release(sequence: 1), on: kv)
        #expect(rig.pump { Self.released(producer) == [1] }, "the destroyed view still held the update")
        Self.present(producer, 2)
        try #require(rig.pump { keeper.events(PortholeBufferViewV1Updated.self, on: kv).count == 2 })
        producer.send(PortholeBufferV1Destroy(), on: 4)
        try #require(rig.pump { !keeper.events(PortholeBufferViewV1Removed.self, on: kv).isEmpty })
        keeper.send(PortholeBufferViewV1Release(sequence: 2), on: kv)
        rig.h.settle()
        #expect(!keeper.sawEOF && keeper.displayError == nil)
    }

    @Test func aConsumerThatNeverReleasesIsEvictedAndTheOthersKeepTheirRate() throws {
        var limits = BufferServiceLimits()
        limits.releaseTimeout = 0.3
        let rig = try BufferSharingRig(bufferLimits: limits)
        defer { rig.tearDown() }
        let slow = try rig.consumer(), fast = try rig.consumer()
        let producer = try Self.published(rig)
        try #require(rig.pump { slow.addedViews().count == 1 && fast.addedViews().count == 1 })
        let fv = fast.addedViews()[0].event.buffer
        let start = MonotonicClock.nanoseconds()
        Self.present(producer, 1)
        try #require(rig.pump { !fast.events(PortholeBufferViewV1Updated.self, on: fv).isEmpty })
        fast.send(PortholeBufferViewV1Release(sequence: 1), on: fv)
        #expect(rig.pump { slow.sawEOF }, "the slow consumer was not evicted")
        let waited = Double(MonotonicClock.nanoseconds() - start) / 1e9
        #expect(waited >= 0.3 && waited < 2, "evicted after \(waited) s")
        #expect(slow.displayError?.code == Self.tooSlow && slow.displayError?.message.contains("unreleased for more than 0.3 s") == true,
                "\(String(describing: slow.displayError))")
        #expect(rig.pump { Self.released(producer) == [1] }, "the producer waited on an evicted consumer")
        // From now on each present is released as soon as the fast consumer releases it.
        for s: UInt32 in 2...20 {
            Self.present(producer, s)
            try #require(rig.pump(timeout: 1) { fast.events(PortholeBufferViewV1Updated.self, on: fv).count == Int(s) })
            fast.send(PortholeBufferViewV1Release(sequence: s), on: fv)
            try #require(rig.pump(timeout: 1) { Self.released(producer).last == s })
        }
        #expect(rig.h.host.bufferService?.counters.evictions == 1)
    }

    @Test func aConsumerHoldingTooManyUpdatesIsEvicted() throws {
        var limits = BufferServiceLimits()
        limits.pendingUpdatesPerConsumer = 4
        let rig = try BufferSharingRig(bufferLimits: limits)
        defer { rig.tearDown() }
        let c = try rig.consumer()
        let producer = try Self.published(rig)
        try #require(rig.pump { c.addedViews().count == 1 })
        for s: UInt32 in 1...5 { Self.present(producer, s) }
        #expect(rig.pump { c.sawEOF })
        #expect(c.displayError?.code == Self.tooSlow && c.displayError?.message.contains("more than 4 updates unreleased") == true)
        #expect(rig.pump { Self.released(producer) == [1, 2, 3, 4, 5] })
    }

    @Test func aConsumerThatFloodsAndReadsNothingIsEvicted() throws {
        var limits = BufferServiceLimits()
        limits.consumerQueueBytes = 64 << 10
        let rig = try BufferSharingRig(bufferLimits: limits)
        defer { rig.tearDown() }
        let (mine, theirs) = try Socket.pair()
        try #require(rig.h.host.bufferService).serveConsumer(socket: theirs)
        let bystander = try rig.consumer()
        // wl_display.sync after sync, never reading the answers.
        let sync = WlDisplaySync(callback: 2).encode(objectID: 1)
        var closed = false
        for _ in 0..<100_000 where !closed {
            let n = (try? sync.withUnsafeBytes { try Socket.send(mine, $0, fds: []) }) ?? -1
            if n <= 0 { rig.h.loop.runOnce(timeout: 0.001) }
            closed = rig.h.host.bufferService?.counters.consumers == 1
        }
        #expect(closed, "the flooding consumer is still served")
        #expect(rig.h.host.bufferService?.counters.evictions == 1)
        // The next id (ids come in sequence, as libwayland's server wants).
        bystander.send(WlDisplaySync(callback: 5), on: 1)
        #expect(rig.pump { !bystander.events(WlCallbackDone.self, on: 5).isEmpty })
    }

    @Test func aConsumerThatSendsAnFdIsClosed() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let c = try rig.consumer()
        c.send(WlDisplaySync(callback: 5).encode(objectID: 1), fds: [try Memfd.create(name: "stray", size: 1)])
        #expect(rig.pump { c.sawEOF })
        #expect(c.displayError?.message.contains("more than 0 file descriptors sent ahead of their requests") == true, "\(String(describing: c.displayError))")
    }

    @Test func aBadFilterAndTooManySubscriptions() throws {
        var limits = BufferServiceLimits()
        limits.subscriptionsPerConsumer = 2
        let rig = try BufferSharingRig(bufferLimits: limits)
        defer { rig.tearDown() }
        let empty = try rig.consumer(application: "")
        #expect(rig.pump { empty.sawEOF })
        #expect(empty.displayError?.code == ConsumerErrorCode.badFilter.rawValue, "\(String(describing: empty.displayError))")
        let greedy = try rig.consumer()
        for id: UInt32 in 5...6 { greedy.send(PortholeBufferConsumerV1Subscribe(id: id, application: Array("x\(id)".utf8), guest: nil), on: 3) }
        #expect(rig.pump { greedy.sawEOF })
        #expect(greedy.displayError?.code == ConsumerErrorCode.tooManySubscriptions.rawValue && greedy.displayError?.message.contains("more than 2") == true)
    }
}
