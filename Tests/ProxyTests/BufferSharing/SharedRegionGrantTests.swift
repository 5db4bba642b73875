import BufferService
import Link
import PortholeSystem
@testable import Proxy
import Sharing
import Testing
import Wayland

/// Zero copy between guests (docs/buffer-sharing.md §8): the host declares a
/// sharing region for A and B, which both map; a buffer A allocates there
/// and grants to B is read by B's consumer in place, with no pixel byte on
/// either link. A guest that does not map it (C) gets a copy, chosen by the
/// host and reported.
@Suite("Buffer sharing: grants in a region shared by two guests") struct SharedRegionGrantTests {
    /// A buffer of 32x32 XRGB allocated in the sharing region by a producer
    /// of A (buffer 4), its memory mapped, published.
    struct SharedImage {
        let producer: WaylandTestClient
        let mapping: SharedMapping
        let offset: Int
        let size = 32 * 32 * 4

        init(_ rig: GuestToGuestRig, sourceLocation: SourceLocation = #_sourceLocation) throws {
            producer = try rig.producer(sourceLocation: sourceLocation)
            producer.send(PortholeBufferProducerV1AllocateShared(id: 4, size: UInt32(size), application: Array("camera".utf8)), on: 3)
            let p = producer
            try #require(rig.pump { !p.events(PortholeBufferV1Memory.self, on: 4).isEmpty || p.displayError != nil },
                         sourceLocation: sourceLocation)
            let memory = try #require(producer.events(PortholeBufferV1Memory.self, on: 4).first, "no memory: \(String(describing: producer.displayError))",
                                      sourceLocation: sourceLocation)
            offset = Int(memory.offset)
            mapping = try SharedMapping(fd: try #require(producer.fds.first), size: Int(memory.regionSize))
            for (name, value) in [("width", "32"), ("height", "32"), ("stride", "128"), ("format", "XRGB8888")] {
                producer.send(PortholeBufferV1SetProperty(name: Array(name.utf8), value: Array(value.utf8)), on: 4)
            }
            paint(0x11)
            producer.send(PortholeBufferV1Publish(), on: 4)
        }

        func paint(_ value: UInt8) { (mapping.base! + offset).initializeMemory(as: UInt8.self, repeating: value, count: size) }
        var bytes: [UInt8] { Array(mapping.bytes(at: offset, count: size)) }

        /// Grants buffer 4 to `guest` as reference `id`; the handle.
        func grant(to guest: String, as id: UInt32, _ rig: GuestToGuestRig) throws -> [UInt8] {
            producer.send(PortholeBufferV1Grant(id: id, guest: Array(guest.utf8)), on: 4)
            let p = producer
            try #require(rig.pump { !p.events(PortholeBufferReferenceV1Handle.self, on: id).isEmpty })
            return producer.events(PortholeBufferReferenceV1Handle.self, on: id)[0].handle
        }
    }

    @Test func aGuestThatMapsTheRegionReadsTheBufferInPlaceAndAnotherGetsACopy() throws {
        let rig = try GuestToGuestRig(commonRegion: 1 << 20)
        defer { rig.tearDown() }
        let image = try SharedImage(rig)
        let toB = try image.grant(to: GuestToGuestRig.nameB, as: 5, rig)
        let toC = try image.grant(to: GuestToGuestRig.nameC, as: 6, rig)

        let b = try rig.consumer(in: rig.b), c = try rig.consumer(in: rig.c)
        b.importBuffer(toB)
        c.importBuffer(toC)
        for consumer in [b, c] { try #require(rig.pump { !consumer.events(PortholeBufferImportV1BufferAdded.self, on: 4).isEmpty }) }
        let inB = b.events(PortholeBufferImportV1BufferAdded.self, on: 4)[0], inC = c.events(PortholeBufferImportV1BufferAdded.self, on: 4)[0]
        #expect(Int(inB.offset) == image.offset, "B reads the buffer where A drew it")
        #expect(inC.offset == 0, "C gets a copy of its own")
        let region = try #require(rig.service.commonRegions.first?.region)
        let bFd = try #require(b.fds.first), cFd = try #require(c.fds.first)
        #expect(region.isSameFile(bFd) && !region.isSameFile(cFd))
        let stats = rig.h.stats()
        #expect(stats["guest_consumer_views_shared"] == 1 && stats["guest_consumer_views_copied"] == 1, "\(stats)")

        for sequence in UInt32(1)...3 {
            image.paint(UInt8(0x20 + sequence))
            image.producer.send(PortholeBufferV1Update(x: 0, y: 0, width: 32, height: 32), on: 4)
            image.producer.send(PortholeBufferV1Present(sequence: sequence, renderUsec: 0), on: 4)
            for (consumer, view) in [(b, inB.buffer), (c, inC.buffer)] {
                try #require(rig.pump { consumer.events(PortholeBufferViewV1Updated.self, on: view).count == Int(sequence) })
                consumer.send(PortholeBufferViewV1Release(sequence: sequence), on: view)
            }
            #expect(try consumerBytes(bFd, offset: image.offset, size: image.size) == image.bytes)
            #expect(try consumerBytes(cFd, offset: 0, size: image.size) == image.bytes)
            #expect(rig.pump { image.producer.events(PortholeBufferV1Released.self, on: 4).count == Int(sequence) })
        }
        // Nothing of the pixels crossed A's link, nor went to B; C's copy did.
        #expect(rig.a.guest.stats.pixelBytesSent == 0)
        let copiedToC = rig.h.stats()["pixel_bytes_sent"] ?? 0
        #expect(copiedToC >= image.size * 4, "C's copy: whole, then three whole updates: \(copiedToC)")
        #expect(copiedToC < image.size * 5, "B's view was copied too: \(copiedToC)")

        // A's end revokes both and gives the region's bytes back.
        let free = try #require(rig.service.commonRegions.first).largestFree
        rig.a.shutDown()
        #expect(rig.pump { !b.events(PortholeBufferImportV1Revoked.self, on: 4).isEmpty && !c.events(PortholeBufferImportV1Revoked.self, on: 4).isEmpty })
        #expect(rig.pump { rig.service.counters.buffers == 0 && rig.h.stats()["guest_consumer_views_shared"] == 0 })
        #expect(try #require(rig.service.commonRegions.first).largestFree > free, "the buffer's bytes were not given back")
    }

    @Test func aGuestWithoutTheRegionCannotAllocateInItAndItsTagIsChecked() throws {
        let rig = try GuestToGuestRig(commonRegion: 1 << 20)
        defer { rig.tearDown() }
        // C maps no sharing region: its guest proxy refuses.
        let p = try rig.c.connectProducer()
        try #require(p.bindFirstGlobal("porthole_buffer_producer_v1", version: 3, pump: { rig.pump($0) }))
        p.send(PortholeBufferProducerV1AllocateShared(id: 4, size: 4096, application: Array("camera".utf8)), on: 3)
        #expect(rig.pump { p.displayError?.code == ProducerErrorCode.noRegion.rawValue }, "\(String(describing: p.displayError))")
        // A producer cannot send the guest proxy's own request.
        let q = try rig.producer()
        q.send(PortholeBufferProducerV1RegisterCommon(id: 4, size: 4096, application: Array("camera".utf8), tag: [UInt8](repeating: 0, count: 16)), on: 3)
        #expect(rig.pump { q.displayError != nil })
        #expect(q.displayError?.message.contains("register_common is the guest proxy's own request") == true, "\(String(describing: q.displayError))")
        #expect(rig.service.counters.buffers == 0)
    }

    @Test func aSharingRegionResourceFromAGuestIsALinkError() throws {
        try InProcessHost.expectLinkError("resource 5 names a sharing region, which only the host offers") { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .commonRegion, size: 1 << 20))
        }
    }

    @Test func aDeclaredSharerThatMapsNoRegionLosesOnlyThatConsumer() throws {
        let rig = try GuestToGuestRig(commonRegion: 1 << 20, bMapsIt: false)
        defer { rig.tearDown() }
        let image = try SharedImage(rig)
        let handle = try image.grant(to: GuestToGuestRig.nameB, as: 5, rig)
        let b = try rig.consumer(in: rig.b)
        b.importBuffer(handle)
        // B's proxy closes that consumer's channel (and logs why) instead of mapping something else.
        #expect(rig.pump { b.sawEOF }, "B's consumer was served a region B does not map")
        #expect(b.events(PortholeBufferImportV1BufferAdded.self, on: 4).isEmpty && b.fds.isEmpty)
        // B's link and its other consumers carry on.
        #expect(rig.h.host.guestsServed == 3)
        let other = try rig.consumer(in: rig.b)
        other.send(WlDisplaySync(callback: 4), on: 1)
        #expect(rig.pump { !other.events(WlCallbackDone.self, on: 4).isEmpty })
    }
}
