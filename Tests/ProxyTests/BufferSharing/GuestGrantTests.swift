import BufferService
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// Guest-to-guest buffers (docs/buffer-sharing.md §8): a producer in guest
/// A grants a buffer to guest B by the name the host gave B; B's consumer
/// imports it through its own guest proxy and gets a copy kept up to date
/// over its link; nobody else can import it, and A's end revokes it.
@Suite("Buffer sharing: grants between guests") struct GuestGrantTests {
    @Test func theGrantedGuestImportsTheBufferFollowsEveryUpdateAndItsReleasesReachTheProducer() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        let producer = try rig.producer()
        let image = try ProducerImage(width: 32, height: 32)
        image.fill { UInt8(truncatingIfNeeded: $0 % 251 + 1) }
        let handle = try rig.grant(image, on: producer, to: GuestToGuestRig.nameB)
        #expect(handle.count == 16)

        let (consumer, added) = try rig.imported(handle)
        #expect(added.guest == Array(GuestToGuestRig.nameA.utf8) && added.application == Array("camera".utf8))
        #expect(rig.pump { consumer.events(PortholeBufferViewV1Done.self, on: added.buffer).count == 1 })
        let fd = try #require(consumer.fds.first, "no fd in B")
        #expect(try consumerBytes(fd, offset: Int(added.offset), size: image.size) == image.bytes, "B's copy differs from A's pixels")
        #expect(rig.pump { producer.events(PortholeBufferReferenceV1Imported.self, on: 5).map(\.importers) == [1] })
        #expect(rig.copiedViews == 1, "the host reports the view as copied")

        for sequence in UInt32(1)...3 {
            image.paint(x: Int(sequence) * 4, y: 2, width: 5, height: 7, UInt8(0x40 + sequence))
            producer.send(PortholeBufferV1Update(x: Int32(sequence) * 4, y: 2, width: 5, height: 7), on: 4)
            producer.send(PortholeBufferV1Present(sequence: sequence, renderUsec: 0), on: 4)
            try #require(rig.pump { consumer.events(PortholeBufferViewV1Updated.self, on: added.buffer).count == Int(sequence) }, "no update \(sequence)")
            #expect(try consumerBytes(fd, offset: Int(added.offset), size: image.size) == image.bytes, "B's copy at \(sequence) differs")
            rig.h.settle()
            #expect(producer.events(PortholeBufferV1Released.self, on: 4).count == Int(sequence) - 1, "released before B released")
            consumer.send(PortholeBufferViewV1Release(sequence: sequence), on: added.buffer)
            #expect(rig.pump { producer.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) == Array(1...sequence) })
        }
    }

    @Test func aThirdGuestTheHostAndForgedHandlesCannotImportAGrant() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        let producer = try rig.producer()
        let image = try ProducerImage(width: 16, height: 16)
        let handle = try rig.grant(image, on: producer, to: GuestToGuestRig.nameB)

        let third = try rig.consumer(in: rig.c)
        let onHost = try rig.h.connectConsumer()
        try #require(onHost.bindFirstGlobal("porthole_buffer_consumer_v1", version: 2, pump: { rig.pump($0) }))
        var forged = handle
        forged[15] ^= 1
        let forger = try rig.consumer(in: rig.b)
        let short = try rig.consumer(in: rig.b)
        third.importBuffer(handle)
        onHost.importBuffer(handle)
        forger.importBuffer(forged)
        short.importBuffer(Array(handle.prefix(8)))
        for c in [third, onHost, forger, short] {
            #expect(rig.pump { !c.events(PortholeBufferImportV1Failed.self, on: 4).isEmpty }, "an import that should fail")
            #expect(c.events(PortholeBufferImportV1BufferAdded.self, on: 4).isEmpty && c.fds.isEmpty)
        }
        // C is told nothing that tells a grant to another guest from a handle never made.
        let reason = String(decoding: third.events(PortholeBufferImportV1Failed.self, on: 4)[0].reason, as: UTF8.self)
        #expect(reason.contains("unknown, revoked or not granted"), "\(reason)")
        rig.h.settle()
        #expect(producer.events(PortholeBufferReferenceV1Imported.self, on: 5).isEmpty, "someone imported")
        #expect(rig.copiedViews == 0)
        // Nor does a subscription show C (or B) a guest's buffer.
        third.send(PortholeBufferConsumerV1Subscribe(id: 6, application: Array("*".utf8), guest: nil), on: 3)
        rig.h.settle()
        #expect(third.events(PortholeBufferSubscriptionV1BufferAdded.self, on: 6).isEmpty)
        #expect(third.events(PortholeBufferSubscriptionV1GuestConnected.self, on: 6).isEmpty, "C hears of other guests")
    }

    @Test func aGrantToAnUnknownGuestOrToItsOwnGuestIsRefused() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        for name in ["nobody", GuestToGuestRig.nameA, BufferService.hostName] {
            let producer = try rig.producer()
            let image = try ProducerImage(width: 8, height: 8)
            try image.publish(on: producer)
            producer.send(PortholeBufferV1Grant(id: 5, guest: Array(name.utf8)), on: 4)
            #expect(rig.pump { producer.displayError != nil })
            #expect(producer.displayError?.object == 4 && producer.displayError?.code == ProducedBufferErrorCode.unknownGuest.rawValue,
                    "\(name): \(String(describing: producer.displayError))")
        }
        #expect(rig.pump { rig.service.counters.references == 0 && rig.service.counters.buffers == 0 })
    }

    @Test func revokingTellsTheImportingGuestAndLaterImportsFail() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        let producer = try rig.producer()
        let image = try ProducerImage(width: 16, height: 16)
        let handle = try rig.grant(image, on: producer, to: GuestToGuestRig.nameB)
        let (consumer, added) = try rig.imported(handle)
        let view = added.buffer

        producer.send(PortholeBufferReferenceV1Revoke(), on: 5)
        #expect(rig.pump { !consumer.events(PortholeBufferImportV1Revoked.self, on: 4).isEmpty }, "B is not told")
        #expect(rig.pump { !consumer.events(PortholeBufferViewV1Removed.self, on: view).isEmpty })
        #expect(rig.pump { rig.copiedViews == 0 }, "the host still mirrors the view")
        rig.h.settle()
        #expect(producer.events(PortholeBufferReferenceV1Released.self, on: 5).isEmpty, "released while B holds its view")
        consumer.send(PortholeBufferViewV1Destroy(), on: view)
        #expect(rig.pump { !producer.events(PortholeBufferReferenceV1Released.self, on: 5).isEmpty }, "A's wait for release never ends")

        let late = try rig.consumer(in: rig.b)
        late.importBuffer(handle)
        #expect(rig.pump { !late.events(PortholeBufferImportV1Failed.self, on: 4).isEmpty }, "an import after revocation")
        #expect(late.fds.isEmpty)
    }

    @Test func theProducingGuestsDisconnectRevokesTheGrantAndTheHostKeepsNothing() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        let producer = try rig.producer()
        let image = try ProducerImage(width: 64, height: 64)
        let handle = try rig.grant(image, on: producer, to: GuestToGuestRig.nameB)
        let (consumer, added) = try rig.imported(handle)
        let view = added.buffer
        let heldBefore = rig.h.host.heldForGuests

        rig.a.shutDown()
        #expect(rig.pump { !consumer.events(PortholeBufferImportV1Revoked.self, on: 4).isEmpty }, "B is not told of A's end")
        #expect(rig.pump { !consumer.events(PortholeBufferViewV1Removed.self, on: view).isEmpty })
        #expect(rig.pump { rig.service.counters.buffers == 0 && rig.service.counters.references == 0 && rig.copiedViews == 0 })
        #expect(rig.pump { rig.h.host.guestsServed == 2 })
        // B's own link holds what it held before A came (its consumer's channel), A's nothing.
        #expect(rig.h.host.heldForGuests.bytes <= heldBefore.bytes)
        // B's consumer is still served: a new import of the stale handle fails cleanly.
        consumer.importBuffer(handle, as: 5)
        #expect(rig.pump { !consumer.events(PortholeBufferImportV1Failed.self, on: 5).isEmpty })
    }
}

extension GuestGrantTests {
    @Test func theImportingGuestsConsumerCanNeitherWriteNorShrinkItsCopy() throws {
        let rig = try GuestToGuestRig()
        defer { rig.tearDown() }
        let producer = try rig.producer()
        let image = try ProducerImage(width: 16, height: 16)
        let handle = try rig.grant(image, on: producer, to: GuestToGuestRig.nameB)
        let (consumer, _) = try rig.imported(handle)
        let fd = try #require(consumer.fds.first)
        #expect(throws: SystemError.self) { try SharedMapping(fd: fd, size: image.size, writable: true) }
        #expect(throws: SystemError.self) { try Memfd.resize(fd, to: 0) }
        // B's proxy still writes the updates into it.
        image.paint(x: 0, y: 0, width: 16, height: 16, 0x31)
        producer.send(PortholeBufferV1Update(x: 0, y: 0, width: 16, height: 16), on: 4)
        producer.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4)
        #expect(rig.pump { (try? consumerBytes(fd, offset: 0, size: image.size)) == image.bytes })
    }
}

extension GuestGrantTests {
    @Test func aGuestsConsumersAreHeldToTheirQuotasOfConsumersViewsAndBytes() throws {
        var limits = BufferServiceLimits()
        limits.consumersPerGuest = 2
        limits.viewsPerGuestConsumer = 1
        limits.viewBytesPerGuest = 16 * 16 * 4 * 2
        let rig = try GuestToGuestRig(bufferLimits: limits)
        defer { rig.tearDown() }
        let producer = try rig.producer()
        var handles: [[UInt8]] = []
        for (id, size) in [(UInt32(4), 16), (6, 16), (8, 24)] {
            let image = try ProducerImage(width: size, height: size)
            try image.publish(on: producer, id: id)
            producer.send(PortholeBufferV1Grant(id: id + 1, guest: Array(GuestToGuestRig.nameB.utf8)), on: id)
            try #require(rig.pump { !producer.events(PortholeBufferReferenceV1Handle.self, on: id + 1).isEmpty })
            handles.append(producer.events(PortholeBufferReferenceV1Handle.self, on: id + 1)[0].handle)
        }
        let first = try rig.consumer(in: rig.b)
        first.importBuffer(handles[0], as: 4)
        first.importBuffer(handles[1], as: 5)
        #expect(rig.pump { !first.events(PortholeBufferImportV1BufferAdded.self, on: 4).isEmpty })
        #expect(rig.pump { !first.events(PortholeBufferImportV1Failed.self, on: 5).isEmpty }, "a second view past the quota of 1")
        let why = first.events(PortholeBufferImportV1Failed.self, on: 5).first.map { String(decoding: $0.reason, as: UTF8.self) } ?? ""
        #expect(why.contains("at most 1 views"), "\(why)")

        // The guest's consumers together: 1 KiB held, the 24x24 buffer would pass 2 KiB.
        let second = try rig.consumer(in: rig.b)
        second.importBuffer(handles[2], as: 4)
        #expect(rig.pump { !second.events(PortholeBufferImportV1Failed.self, on: 4).isEmpty })
        let bytes = second.events(PortholeBufferImportV1Failed.self, on: 4).first.map { String(decoding: $0.reason, as: UTF8.self) } ?? ""
        #expect(bytes.contains("would hold views of 3328 bytes"), "\(bytes)")

        // A third consumer of the guest is closed at once; C's are its own.
        let third = try rig.b.connectConsumer()
        #expect(rig.pump { third.sawEOF }, "a consumer past the guest's quota is served")
        let other = try rig.consumer(in: rig.c)
        other.send(WlDisplaySync(callback: 4), on: 1)
        #expect(rig.pump { !other.events(WlCallbackDone.self, on: 4).isEmpty })
    }
}
