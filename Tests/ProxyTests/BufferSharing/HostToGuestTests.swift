import BufferService
import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// Host to guest (docs/buffer-sharing.md §8): a program of the host
/// publishes on the host's producer socket; a consumer in a guest sees its
/// buffers only for applications `--buffers-to-guest` allows that guest,
/// gets a copy kept up to date over its link, and releases as any consumer.
@Suite("Buffer sharing: from the host to guests") struct HostToGuestTests {
    @Test func aGuestConsumerSeesTheHostsAllowedApplicationAndEveryUpdate() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        rig.service.guestAccess = [GuestBufferAccess(application: "camera", guest: GuestToGuestRig.nameB)]
        let hostProducer = try rig.hostProducer()
        let image = try ProducerImage(width: 40, height: 30)
        image.fill { UInt8(truncatingIfNeeded: $0 * 7) }
        try image.publish(on: hostProducer)
        // A guest's own camera, and a host buffer of an application not allowed.
        let guestProducer = try rig.producer()
        try ProducerImage(width: 8, height: 8).publish(on: guestProducer)
        try ProducerImage(width: 8, height: 8).publish(on: hostProducer, id: 5, application: "screen")

        let b = try rig.consumer(in: rig.b)
        let c = try rig.consumer(in: rig.c)
        for consumer in [b, c] { consumer.send(PortholeBufferConsumerV1Subscribe(id: 4, application: Array("*".utf8), guest: nil), on: 3) }
        try #require(rig.pump { b.addedViews().count == 1 }, "B sees no host camera")
        rig.h.settle()
        #expect(b.addedViews().count == 1, "B sees more than the host's camera")
        #expect(c.addedViews().isEmpty, "C sees buffers the host did not allow it")
        let added = b.addedViews()[0].event
        #expect(added.guest == Array(BufferService.hostName.utf8) && added.application == Array("camera".utf8))
        #expect(b.events(PortholeBufferSubscriptionV1GuestConnected.self, on: 4).map(\.guest) == [Array(BufferService.hostName.utf8)],
                "B hears of guests other than the host")
        #expect(rig.pump { b.events(PortholeBufferViewV1Done.self, on: added.buffer).count == 1 })
        let fd = try #require(b.addedViews()[0].fd)
        #expect(try consumerBytes(fd, offset: Int(added.offset), size: image.size) == image.bytes)

        image.paint(x: 10, y: 10, width: 20, height: 5, 0xEE)
        hostProducer.send(PortholeBufferV1Update(x: 10, y: 10, width: 20, height: 5), on: 4)
        hostProducer.send(PortholeBufferV1Present(sequence: 9, renderUsec: 0), on: 4)
        try #require(rig.pump { b.events(PortholeBufferViewV1Updated.self, on: added.buffer).map(\.sequence) == [9] })
        #expect(try consumerBytes(fd, offset: Int(added.offset), size: image.size) == image.bytes)
        b.send(PortholeBufferViewV1Release(sequence: 9), on: added.buffer)
        #expect(rig.pump { hostProducer.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) == [9] })

        // The host producer's end: B hears removed and a reset of the host.
        hostProducer.close()
        #expect(rig.pump { !b.events(PortholeBufferViewV1Removed.self, on: added.buffer).isEmpty })
        #expect(rig.pump { b.events(PortholeBufferSubscriptionV1Reset.self, on: 4).count == 1 })
        #expect(rig.pump { rig.copiedViews == 0 })
    }

    @Test func withoutAnAllowanceAGuestSeesNothingOfTheHostAndCannotImportItsExports() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        let hostProducer = try rig.hostProducer()
        let image = try ProducerImage(width: 8, height: 8)
        try image.publish(on: hostProducer)
        hostProducer.send(PortholeBufferV1Export(id: 5), on: 4)
        try #require(rig.pump { !hostProducer.events(PortholeBufferReferenceV1Handle.self, on: 5).isEmpty })
        let handle = hostProducer.events(PortholeBufferReferenceV1Handle.self, on: 5)[0].handle

        let b = try rig.consumer(in: rig.b)
        b.importBuffer(handle)
        b.send(PortholeBufferConsumerV1Subscribe(id: 5, application: Array("camera".utf8), guest: nil), on: 3)
        #expect(rig.pump { !b.events(PortholeBufferImportV1Failed.self, on: 4).isEmpty })
        rig.h.settle()
        #expect(b.addedViews(on: 5).isEmpty && b.fds.isEmpty)
        // A host consumer imports the same handle.
        let onHost = try rig.h.connectConsumer()
        try #require(onHost.bindFirstGlobal("porthole_buffer_consumer_v1", version: 2, pump: { rig.pump($0) }))
        onHost.importBuffer(handle)
        #expect(rig.pump { !onHost.events(PortholeBufferImportV1BufferAdded.self, on: 4).isEmpty })
        // A host producer cannot allocate in a region nor grant.
        hostProducer.send(PortholeBufferV1Grant(id: 6, guest: Array(GuestToGuestRig.nameB.utf8)), on: 4)
        #expect(rig.pump { hostProducer.displayError?.code == ProducedBufferErrorCode.unknownGuest.rawValue })
    }

    @Test func aConsumerChannelOnALinkThatDidNotAgreeOnItIsALinkError() throws {
        try InProcessHost.expectLinkError("channel 1 asks for the buffer consumer, which this link did not agree on") { _, g in
            g.openChannel(1, service: .bufferConsumer)
        }
    }

    @Test func aGuestConsumerMayBindOnlyTheConsumerGlobal() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        let c = try rig.b.connectConsumer()
        #expect(c.bindFirstGlobal("porthole_buffer_producer_v1", pump: { rig.pump($0) }))
        #expect(rig.pump { c.displayError != nil }, "the host let a guest consumer bind something else")
        #expect(c.displayError?.message.contains("only porthole_buffer_consumer_v1") == true, "\(String(describing: c.displayError))")
        // The guest's other consumers are served.
        let other = try rig.consumer(in: rig.b)
        other.send(PortholeBufferConsumerV1Subscribe(id: 4, application: Array("camera".utf8), guest: nil), on: 3)
        other.send(WlDisplaySync(callback: 5), on: 1)
        #expect(rig.pump { !other.events(WlCallbackDone.self, on: 5).isEmpty })
    }
}
