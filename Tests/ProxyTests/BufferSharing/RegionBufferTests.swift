@testable import BufferService
import Glibc
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// Zero copy through the shared region (docs/buffer-sharing.md §3): a
/// producer allocates its buffer in the guest's region and draws there; no
/// pixel byte crosses the link; a consumer trusted with the region reads
/// the same memory, one that is not gets a copy of exactly the damaged bytes.
@Suite("Buffer sharing: producer buffers in the shared region") struct RegionBufferTests {
    static let regionSize = 1 << 20

    /// A producer's buffer allocated in the region: where it is and the
    /// producer's own mapping of the region.
    struct RegionImage {
        let width = 64
        let height = 64
        let offset: Int
        let region: SharedMapping
        var stride: Int { width * 4 }
        var size: Int { stride * height }

        /// allocate (as 4 on producer object 3), the memory event, the image properties, publish.
        init(_ rig: BufferSharingRig, _ producer: WaylandTestClient, sourceLocation: SourceLocation = #_sourceLocation) throws {
            producer.send(PortholeBufferProducerV1Allocate(id: 4, size: 64 * 64 * 4, application: Array("camera".utf8)), on: 3)
            try #require(rig.pump { !producer.events(PortholeBufferV1Memory.self, on: 4).isEmpty || producer.displayError != nil },
                         "no memory event", sourceLocation: sourceLocation)
            let memory = try #require(producer.events(PortholeBufferV1Memory.self, on: 4).first, "\(String(describing: producer.displayError))",
                                      sourceLocation: sourceLocation)
            #expect(memory.regionSize == UInt32(RegionBufferTests.regionSize), sourceLocation: sourceLocation)
            offset = Int(memory.offset)
            region = try SharedMapping(fd: try #require(producer.fds.last, sourceLocation: sourceLocation), size: Int(memory.regionSize))
            for (name, value) in [("width", "64"), ("height", "64"), ("stride", "256"), ("format", "XRGB8888")] {
                producer.send(PortholeBufferV1SetProperty(name: Array(name.utf8), value: Array(value.utf8)), on: 4)
            }
        }

        func fill(_ value: (Int) -> UInt8) {
            for i in 0..<size { region.base!.storeBytes(of: value(i), toByteOffset: offset + i, as: UInt8.self) }
        }

        func paint(x: Int, y: Int, width w: Int, height h: Int, _ value: UInt8) {
            for row in y..<(y + h) {
                for i in (row * stride + x * 4)..<(row * stride + (x + w) * 4) { region.base!.storeBytes(of: value, toByteOffset: offset + i, as: UInt8.self) }
            }
        }

        var bytes: [UInt8] { Array(region.bytes(at: offset, count: size)) }
    }

    @Test func aTrustedConsumerReadsTheRegionItselfWithNoPixelByteOnTheLinkAndNoHostCopy() throws {
        let rig = try BufferSharingRig(regionSize: Self.regionSize)
        defer { rig.tearDown() }
        let service = try #require(rig.h.host.bufferService)
        let consumer = try rig.consumer()
        let producer = try rig.producer(version: 2)
        let sentBefore = rig.g.guest.stats.pixelBytesSent
        let image = try RegionImage(rig, producer)
        image.fill { UInt8(truncatingIfNeeded: $0 % 251 + 1) }
        producer.send(PortholeBufferV1Publish(), on: 4)

        try #require(rig.pump { consumer.addedViews().count == 1 }, "no buffer_added")
        let (added, fd) = consumer.addedViews()[0]
        #expect(added.offset == UInt32(image.offset) && added.size == UInt32(image.size), "the buffer's place in the region")
        let file = try #require(fd)
        #expect(try file.fileSize() == Self.regionSize, "the fd is the region")
        #expect(mmap(nil, Self.regionSize, PROT_READ | PROT_WRITE, MAP_SHARED, file.rawValue, 0) == MAP_FAILED, "a writable mapping of the region")
        #expect(try consumerBytes(file, offset: image.offset, size: image.size) == image.bytes)

        image.paint(x: 8, y: 8, width: 8, height: 8, 0xAB)
        producer.send(PortholeBufferV1Update(x: 8, y: 8, width: 8, height: 8), on: 4)
        producer.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4)
        let view = added.buffer
        try #require(rig.pump { !consumer.events(PortholeBufferViewV1Updated.self, on: view).isEmpty }, "no updated")
        #expect(try consumerBytes(file, offset: image.offset, size: image.size) == image.bytes)
        #expect(rig.g.guest.stats.pixelBytesSent - sentBefore == 0, "pixel bytes on the link")
        #expect(service.counters.regionCopyBytes == 0, "host copies")

        consumer.send(PortholeBufferViewV1Release(sequence: 1), on: view)
        #expect(rig.pump { producer.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) == [1] }, "wait-for-release")
    }

    @Test func aConsumerNotTrustedWithTheRegionGetsACopyOfExactlyTheDamagedBytes() throws {
        let rig = try BufferSharingRig(regionSize: Self.regionSize)
        defer { rig.tearDown() }
        let service = try #require(rig.h.host.bufferService)
        service.regionConsumers = []
        let consumer = try rig.consumer()
        let producer = try rig.producer(version: 2)
        let sentBefore = rig.g.guest.stats.pixelBytesSent
        let image = try RegionImage(rig, producer)
        image.fill { UInt8(truncatingIfNeeded: $0 % 241 + 3) }
        producer.send(PortholeBufferV1Publish(), on: 4)

        try #require(rig.pump { consumer.addedViews().count == 1 }, "no buffer_added")
        let (added, fd) = consumer.addedViews()[0]
        let file = try #require(fd)
        #expect(added.offset == 0 && added.size == UInt32(image.size))
        #expect(try file.fileSize() == image.size, "the fd is the buffer's own copy, not the region")
        #expect(mmap(nil, image.size, PROT_READ | PROT_WRITE, MAP_SHARED, file.rawValue, 0) == MAP_FAILED, "a writable mapping of the copy")
        #expect(try consumerBytes(file, offset: 0, size: image.size) == image.bytes)
        let copiedAtAdd = service.counters.regionCopyBytes
        #expect(copiedAtAdd == UInt64(image.size), "the first copy is whole")

        image.paint(x: 8, y: 8, width: 8, height: 8, 0xAB)
        image.paint(x: 40, y: 50, width: 3, height: 2, 0xCD)
        producer.send(PortholeBufferV1Update(x: 8, y: 8, width: 8, height: 8), on: 4)
        producer.send(PortholeBufferV1Update(x: 40, y: 50, width: 3, height: 2), on: 4)
        producer.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4)
        let view = added.buffer
        try #require(rig.pump { !consumer.events(PortholeBufferViewV1Updated.self, on: view).isEmpty }, "no updated")
        #expect(try consumerBytes(file, offset: 0, size: image.size) == image.bytes, "the copy after the update")
        let damagedBytes: UInt64 = 8 * 8 * 4 + 3 * 2 * 4
        #expect(service.counters.regionCopyBytes - copiedAtAdd == damagedBytes, "one host copy of the damaged bytes")
        #expect(rig.g.guest.stats.pixelBytesSent - sentBefore == 0, "pixel bytes on the link")
    }

    @Test func destroyingTheBufferRemovesItAndGivesItsMemoryBack() throws {
        let rig = try BufferSharingRig(regionSize: Self.regionSize)
        defer { rig.tearDown() }
        let consumer = try rig.consumer()
        let producer = try rig.producer(version: 2)
        let image = try RegionImage(rig, producer)
        producer.send(PortholeBufferV1Publish(), on: 4)
        try #require(rig.pump { consumer.addedViews().count == 1 })
        let view = consumer.addedViews()[0].event.buffer
        let region = try #require(rig.g.guest.region)
        let freeBefore = region.allocator.largestFree
        producer.send(PortholeBufferV1Destroy(), on: 4)
        #expect(rig.pump { !consumer.events(PortholeBufferViewV1Removed.self, on: view).isEmpty }, "no removed")
        #expect(rig.pump { rig.h.host.bufferService?.counters.buffers == 0 })
        #expect(region.allocator.largestFree > freeBefore, "the chunk was not given back")
        #expect(rig.g.guest.stats.link.registeredBuffers == 0)
        #expect(consumer.events(PortholeBufferSubscriptionV1Reset.self, on: 4).isEmpty, "a destroy is no reset")
        // The producer carries on; a second allocation works, and its end gives everything back.
        producer.send(PortholeBufferProducerV1Allocate(id: 5, size: UInt32(image.size), application: Array("camera".utf8)), on: 3)
        #expect(rig.pump { !producer.events(PortholeBufferV1Memory.self, on: 5).isEmpty })
        #expect(rig.pump { rig.h.host.bufferService?.counters.buffers == 1 })
        producer.close()
        #expect(rig.pump { rig.h.host.bufferService?.counters.buffers == 0 && rig.g.guest.stats.link.registeredBuffers == 0 })
        #expect(rig.h.host.bufferService?.regionClaims["guest"]?.isEmpty != false, "a claim outlived its registration")
    }

    @Test func withoutARegionAllocateIsRefusedAndAProducerCannotSendRegisterRegion() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let producer = try rig.producer(version: 2)
        producer.send(PortholeBufferProducerV1Allocate(id: 4, size: 4096, application: Array("camera".utf8)), on: 3)
        #expect(rig.pump { producer.displayError != nil })
        #expect(producer.displayError?.object == 3 && producer.displayError?.code == ProducerErrorCode.noRegion.rawValue
                && producer.displayError?.message.contains("no shared region") == true, "\(String(describing: producer.displayError))")

        let rig2 = try BufferSharingRig(regionSize: Self.regionSize)
        defer { rig2.tearDown() }
        let forger = try rig2.producer(version: 2)
        forger.send(PortholeBufferProducerV1RegisterRegion(id: 4, registration: 1, size: 4096, application: Array("camera".utf8)), on: 3)
        #expect(rig2.pump { forger.displayError != nil })
        #expect(forger.displayError?.message.contains("register_region is the guest proxy's own request") == true,
                "\(String(describing: forger.displayError))")
    }
}
