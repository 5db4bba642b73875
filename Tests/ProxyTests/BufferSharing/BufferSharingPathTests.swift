import Glibc
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// A producer on a real guest proxy, the link, the host proxy and its
/// buffer service, and a consumer, all in-process: the pixels, the updates
/// and the releases travel the whole path (docs/buffer-sharing.md).
@Suite("Buffer sharing: the path through the proxies") struct BufferSharingPathTests {
    @Test func aProducersPixelsReachAConsumerAndOnlyTheDamagedChangesCrossTheLink() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let consumer = try rig.consumer()
        let producer = try rig.producer()
        let image = try ProducerImage(width: 64, height: 64)
        image.fill { UInt8(truncatingIfNeeded: $0 % 251 + 1) }
        try image.publish(on: producer)

        try #require(rig.pump { consumer.addedViews().count == 1 }, "no buffer_added")
        let (added, fd) = consumer.addedViews()[0]
        #expect(added.guest == Array("guest".utf8) && added.application == Array("camera".utf8))
        #expect(added.offset == 0 && added.size == UInt32(image.size))
        let view = added.buffer
        try #require(rig.pump { !consumer.events(PortholeBufferViewV1Done.self, on: view).isEmpty }, "no done")
        let properties = consumer.events(PortholeBufferViewV1Property.self, on: view).map { String(decoding: $0.name, as: UTF8.self) + "=" + String(decoding: $0.value, as: UTF8.self) }
        #expect(properties == ["width=64", "height=64", "stride=256", "format=XRGB8888"])
        let file = try #require(fd)
        #expect(try consumerBytes(file, offset: 0, size: image.size) == image.bytes, "the published buffer's contents")

        // One 8x8 square changes: only its rows' changed bytes cross the link.
        let sentBefore = rig.g.guest.stats.pixelBytesSent
        image.paint(x: 8, y: 8, width: 8, height: 8, 0xAB)
        producer.send(PortholeBufferV1Update(x: 8, y: 8, width: 8, height: 8), on: 4)
        producer.send(PortholeBufferV1Present(sequence: 1, renderUsec: 250), on: 4)
        try #require(rig.pump { !consumer.events(PortholeBufferViewV1Updated.self, on: view).isEmpty }, "no updated")
        let updated = consumer.events(PortholeBufferViewV1Updated.self, on: view)[0]
        #expect(updated.sequence == 1 && updated.renderUsec == 250)
        #expect(updated.damage.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) } == [8, 8, 8, 8])
        #expect(try consumerBytes(file, offset: 0, size: image.size) == image.bytes, "the host's copy after the update")
        let sent = rig.g.guest.stats.pixelBytesSent - sentBefore
        #expect(sent >= 8 * 32 && sent <= 8 * 64, "\(sent) pixel bytes for an 8x8 square")

        // Wait-for-release: released only once the consumer released.
        rig.h.settle()
        #expect(producer.events(PortholeBufferV1Released.self, on: 4).isEmpty, "released before the consumer released")
        consumer.send(PortholeBufferViewV1Release(sequence: 1), on: view)
        #expect(rig.pump { producer.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) == [1] })
    }

    @Test func aPresentWithNoConsumerIsReleasedAtOnce() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let producer = try rig.producer()
        let image = try ProducerImage(width: 16, height: 16)
        try image.publish(on: producer)
        producer.send(PortholeBufferV1Present(sequence: 7, renderUsec: 0), on: 4)
        producer.send(PortholeBufferV1Present(sequence: 9, renderUsec: 0), on: 4)
        #expect(rig.pump { producer.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) == [7, 9] })
        #expect(rig.h.host.bufferService?.counters.buffers == 1)
    }

    @Test func aConsumerCanNeitherWriteNorShrinkTheHostsCopy() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let consumer = try rig.consumer()
        let producer = try rig.producer()
        let image = try ProducerImage(width: 16, height: 16)
        image.fill { _ in 0x5A }
        try image.publish(on: producer)
        try #require(rig.pump { consumer.addedViews().count == 1 })
        let fd = try #require(consumer.addedViews()[0].fd)
        let size = image.size
        #expect(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0) == MAP_FAILED, "a writable shared mapping")
        var byte: UInt8 = 1
        #expect(pwrite(fd.rawValue, &byte, 1, 0) == -1, "write(2)")
        #expect(ftruncate(fd.rawValue, 0) == -1, "a shrink")
        // Reopening the file for writing gives no way around the seals either.
        let reopened = open("/proc/self/fd/\(fd.rawValue)", O_RDWR)
        if reopened >= 0 {
            defer { close(reopened) }
            #expect(pwrite(reopened, &byte, 1, 0) == -1, "write(2) through /proc/self/fd")
            #expect(ftruncate(reopened, 0) == -1, "a shrink through /proc/self/fd")
        }
        // The link still writes into it.
        image.paint(x: 0, y: 0, width: 2, height: 2, 0x11)
        producer.send(PortholeBufferV1Update(x: 0, y: 0, width: 2, height: 2), on: 4)
        producer.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4)
        let view = consumer.addedViews()[0].event.buffer
        try #require(rig.pump { !consumer.events(PortholeBufferViewV1Updated.self, on: view).isEmpty })
        #expect(try consumerBytes(fd, offset: 0, size: size) == image.bytes)
    }

    @Test func aProducerThatGoesAwayIsAResetAndTheLinkEndIsAGuestDisconnect() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let consumer = try rig.consumer()
        #expect(rig.pump { consumer.events(PortholeBufferSubscriptionV1GuestConnected.self, on: 4).map(\.guest) == [Array("guest".utf8)] })
        let producer = try rig.producer()
        let image = try ProducerImage(width: 16, height: 16)
        try image.publish(on: producer)
        try #require(rig.pump { consumer.addedViews().count == 1 })
        let view = consumer.addedViews()[0].event.buffer
        producer.close()
        #expect(rig.pump { !consumer.events(PortholeBufferViewV1Removed.self, on: view).isEmpty }, "no removed")
        #expect(rig.pump { !consumer.events(PortholeBufferSubscriptionV1Reset.self, on: 4).isEmpty }, "no reset")
        #expect(rig.h.host.bufferService?.counters.buffers == 0)
        rig.g.guest.shutdown()
        #expect(rig.pump { !consumer.events(PortholeBufferSubscriptionV1GuestDisconnected.self, on: 4).isEmpty }, "no guest_disconnected")
    }

    @Test func aProducerIsRefusedWhenTheHostHasNoBufferService() throws {
        let h = try InProcessHost()
        h.host.bufferService = nil
        let g = try InProcessGuest(host: h, producers: true)
        defer { g.tearDown() }
        let producer = try g.connectProducer()
        #expect(h.pump { producer.displayError != nil })
        #expect(producer.displayError?.message.contains("the host proxy serves no buffer producers") == true, "\(String(describing: producer.displayError))")
        // Wayland clients of the same guest are served as before.
        let client = try g.connectClient()
        client.send(WlDisplaySync(callback: 2), on: 1)
        #expect(h.pump { !client.events(WlCallbackDone.self, on: 2).isEmpty })
    }

    @Test func theGuestRefusesABufferPastTheEndOfItsFile() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let producer = try rig.producer()
        let image = try ProducerImage(width: 16, height: 16)
        producer.send(PortholeBufferProducerV1Register(id: 4, offset: 64, size: UInt32(image.size), application: Array("camera".utf8)), on: 3,
                      fds: [try image.fd.duplicate()])
        #expect(rig.pump { producer.displayError != nil })
        let error = producer.displayError
        #expect(error?.object == 3 && error?.code == 1 && error?.message.contains("ends past the file's 1024 bytes") == true, "\(String(describing: error))")
    }
}
