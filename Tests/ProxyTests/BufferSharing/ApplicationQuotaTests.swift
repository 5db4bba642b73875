import BufferService
@testable import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// The per-application quotas (docs/ARCHITECTURE.md, "Quotas"): one
/// application of a guest cannot take all of the guest's buffers, bytes,
/// properties or unreleased updates; the guest's other applications and the
/// offender's earlier buffers are served as before.
@Suite("Buffer sharing: per-application quotas") struct ApplicationQuotaTests {
    static let quota = ProducerErrorCode.quota.rawValue

    @Test func anApplicationPastItsBuffersLeavesTheGuestsOtherApplicationsServed() throws {
        var limits = BufferServiceLimits()
        limits.buffersPerApplication = 2
        let h = try InProcessHost(bufferLimits: limits)
        defer { h.tearDown() }
        let camera = try RawProducer(h, channel: 1)
        camera.register(4, rid: 1, size: 4096)
        camera.register(5, rid: 2, size: 4096)
        try #require(h.pump { h.host.bufferService?.counters.buffers == 2 })
        let video = try RawProducer(h, guest: camera.g, channel: 2)
        video.register(4, rid: 1, size: 4096, application: "video")
        #expect(h.pump { h.host.bufferService?.counters.buffers == 3 }, "another application of the guest")
        let more = try RawProducer(h, guest: camera.g, channel: 3)
        more.register(4, rid: 1, size: 4096)
        #expect(h.pump { more.g.displayError(3) != nil })
        let error = more.g.displayError(3)
        #expect(error?.code == Self.quota && error?.message.contains("application camera of guest guest has 2 buffers") == true,
                "\(String(describing: error))")
        #expect(h.pump { h.host.bufferService?.counters.buffers == 3 } && camera.g.channelClose(1) == nil && video.g.channelClose(2) == nil)
    }

    @Test func anApplicationPastItsBytes() throws {
        var limits = BufferServiceLimits()
        limits.bytesPerApplication = 3 * 4096
        let h = try InProcessHost(bufferLimits: limits)
        defer { h.tearDown() }
        let first = try RawProducer(h, channel: 1)
        first.register(4, rid: 1, size: 2 * 4096)
        first.register(5, rid: 2, size: 2 * 4096, application: "video")
        try #require(h.pump { h.host.bufferService?.counters.buffers == 2 })
        let second = try RawProducer(h, guest: first.g, channel: 2)
        second.register(4, rid: 1, size: 2 * 4096)
        #expect(h.pump { second.g.displayError(2) != nil })
        let error = second.g.displayError(2)
        #expect(error?.code == Self.quota && error?.message.contains("application camera of guest guest would hold 16384 bytes (limit 12288)") == true,
                "\(String(describing: error))")
    }

    @Test func anApplicationPastItsProperties() throws {
        var limits = BufferServiceLimits()
        limits.propertiesPerApplication = 5
        let h = try InProcessHost(bufferLimits: limits)
        defer { h.tearDown() }
        let p = try RawProducer(h)
        p.register(4, rid: 1, size: 4096, publish: false)
        for i in 0..<4 { p.send(PortholeBufferV1SetProperty(name: Array("p\(i)".utf8), value: Array("v".utf8)), on: 4) }
        p.register(5, rid: 2, size: 4096, publish: false)
        p.send(PortholeBufferV1SetProperty(name: Array("a".utf8), value: Array("v".utf8)), on: 5)
        h.settle()
        #expect(p.g.displayError(1) == nil, "the fifth property is within the quota")
        p.send(PortholeBufferV1SetProperty(name: Array("b".utf8), value: Array("v".utf8)), on: 5)
        p.expectRefused(object: 5, code: ProducedBufferErrorCode.quota.rawValue, "application camera of guest guest has 5 properties")
    }

    @Test func anApplicationPastItsUnreleasedUpdatesEvictsTheConsumerHoldingTheOldest() throws {
        var limits = BufferServiceLimits()
        limits.pendingUpdatesPerApplication = 3
        let rig = try BufferSharingRig(bufferLimits: limits)
        defer { rig.tearDown() }
        let holder = try rig.consumer(), prompt = try rig.consumer()
        let producer = try rig.producer()
        let image = try ProducerImage(width: 16, height: 16)
        try image.publish(on: producer, id: 4)
        try image.publish(on: producer, id: 5)
        try #require(rig.pump { holder.addedViews().count == 2 && prompt.addedViews().count == 2 })
        // The prompt consumer releases every update; the holder none.
        var sent = 0
        for (sequence, buffer) in [(UInt32(1), UInt32(4)), (1, 5), (2, 4)] {
            producer.send(PortholeBufferV1Present(sequence: sequence, renderUsec: 0), on: buffer)
            sent += 1
            let views = prompt.addedViews().map(\.event.buffer)
            try #require(rig.pump { views.reduce(0) { $0 + prompt.events(PortholeBufferViewV1Updated.self, on: $1).count } == sent })
            let view = views[buffer == 4 ? 0 : 1]
            prompt.send(PortholeBufferViewV1Release(sequence: sequence), on: view)
        }
        rig.h.settle()
        #expect(!holder.sawEOF, "3 unreleased updates are within the quota")
        producer.send(PortholeBufferV1Present(sequence: 2, renderUsec: 0), on: 5)
        #expect(rig.pump { holder.sawEOF }, "the holder of the oldest update was not evicted")
        #expect(holder.displayError?.code == ConsumerErrorCode.tooSlow.rawValue
                && holder.displayError?.message.contains("application camera of guest guest has more than 3 updates unreleased") == true,
                "\(String(describing: holder.displayError))")
        #expect(!prompt.sawEOF && rig.h.host.bufferService?.counters.consumers == 1)
        // The holder's updates count as released: only the prompt consumer's last one is left.
        let view5 = prompt.addedViews()[1].event.buffer
        try #require(rig.pump { prompt.events(PortholeBufferViewV1Updated.self, on: view5).count == 2 })
        prompt.send(PortholeBufferViewV1Release(sequence: 2), on: view5)
        #expect(rig.pump { producer.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) == [1, 2]
                && producer.events(PortholeBufferV1Released.self, on: 5).map(\.sequence) == [1, 2] })
    }
}
