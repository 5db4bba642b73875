import BufferService
import Glibc
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// References (seed 004, docs/buffer-sharing.md §2): a producer exports a
/// buffer as a handle of 128 random bits; a consumer given the handle
/// imports the buffer without subscribing, gets its fd and updates, and
/// releases; the exporter revokes and hears `released` once every importer
/// let go; a buffer that goes away revokes its references.
@Suite("Buffer sharing: references") struct ReferenceTests {
    /// A published 32x32 buffer (4) of a v2 producer, exported as 5, and the handle.
    struct Exported {
        let rig: BufferSharingRig
        let producer: WaylandTestClient
        let image: ProducerImage
        let handle: [UInt8]

        init(_ rig: BufferSharingRig, sourceLocation: SourceLocation = #_sourceLocation) throws {
            self.rig = rig
            producer = try rig.producer(version: 2)
            image = try ProducerImage(width: 32, height: 32)
            image.fill { UInt8(truncatingIfNeeded: $0 % 239 + 5) }
            try image.publish(on: producer)
            producer.send(PortholeBufferV1Export(id: 5), on: 4)
            let p = producer
            try #require(rig.pump { !p.events(PortholeBufferReferenceV1Handle.self, on: 5).isEmpty }, "no handle", sourceLocation: sourceLocation)
            handle = producer.events(PortholeBufferReferenceV1Handle.self, on: 5)[0].handle
        }

        /// A consumer (v2, no subscription) that imports `handle` as import object 4.
        func importer(_ handle: [UInt8]? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> WaylandTestClient {
            let c = try rig.h.connectConsumer()
            try #require(c.bindFirstGlobal("porthole_buffer_consumer_v1", version: 2, pump: { rig.pump($0) }), sourceLocation: sourceLocation)
            c.send(PortholeBufferConsumerV1Import(id: 4, handle: handle ?? self.handle), on: 3)
            return c
        }

        var importers: [UInt32] { producer.events(PortholeBufferReferenceV1Imported.self, on: 5).map(\.importers) }
        var released: Bool { !producer.events(PortholeBufferReferenceV1Released.self, on: 5).isEmpty }
    }

    @Test func anImporterGetsTheBufferWithoutSubscribingAndItsReleasesCountForTheProducer() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let e = try Exported(rig)
        #expect(e.handle.count == 16)
        // A second export is a second handle, with nothing in common.
        e.producer.send(PortholeBufferV1Export(id: 6), on: 4)
        #expect(rig.pump { !e.producer.events(PortholeBufferReferenceV1Handle.self, on: 6).isEmpty })
        let other = e.producer.events(PortholeBufferReferenceV1Handle.self, on: 6).first?.handle ?? []
        #expect(other.count == 16 && other != e.handle)

        let c = try e.importer()
        try #require(rig.pump { !c.events(PortholeBufferImportV1BufferAdded.self, on: 4).isEmpty }, "no buffer_added")
        let added = c.events(PortholeBufferImportV1BufferAdded.self, on: 4)[0]
        #expect(added.application == Array("camera".utf8) && added.offset == 0 && added.size == UInt32(e.image.size))
        #expect(try consumerBytes(try #require(c.fds.first), offset: 0, size: e.image.size) == e.image.bytes)
        #expect(rig.pump { e.importers == [1] }, "the exporter hears of its importer: \(e.importers)")

        e.image.paint(x: 0, y: 0, width: 4, height: 4, 0x77)
        e.producer.send(PortholeBufferV1Update(x: 0, y: 0, width: 4, height: 4), on: 4)
        e.producer.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4)
        try #require(rig.pump { !c.events(PortholeBufferViewV1Updated.self, on: added.buffer).isEmpty }, "no updated")
        rig.h.settle()
        #expect(e.producer.events(PortholeBufferV1Released.self, on: 4).isEmpty, "released before the importer released")
        c.send(PortholeBufferViewV1Release(sequence: 1), on: added.buffer)
        #expect(rig.pump { e.producer.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) == [1] })
    }

    @Test func revokingTellsImportersAndReleasedWaitsForEveryOneOfThem() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let e = try Exported(rig)
        let first = try e.importer(), second = try e.importer()
        try #require(rig.pump { e.importers.last == 2 }, "two importers: \(e.importers)")
        let views = [first, second].map { $0.events(PortholeBufferImportV1BufferAdded.self, on: 4).first?.buffer ?? 0 }

        e.producer.send(PortholeBufferReferenceV1Revoke(), on: 5)
        for (c, view) in zip([first, second], views) {
            #expect(rig.pump { !c.events(PortholeBufferImportV1Revoked.self, on: 4).isEmpty }, "no revoked")
            #expect(rig.pump { !c.events(PortholeBufferViewV1Removed.self, on: view).isEmpty }, "no removed")
        }
        rig.h.settle()
        #expect(!e.released, "released while importers hold views")
        first.send(PortholeBufferViewV1Destroy(), on: views[0])
        rig.h.settle()
        #expect(!e.released, "released while one importer holds a view")
        second.close()
        #expect(rig.pump { e.released }, "no released once every importer let go")
        #expect(e.producer.events(PortholeBufferReferenceV1Released.self, on: 5).count == 1)

        // The handle no longer works; nor does one never given.
        let late = try e.importer()
        let guessed = try e.importer([UInt8](repeating: 0xA5, count: 16))
        for c in [late, guessed] {
            #expect(rig.pump { !c.events(PortholeBufferImportV1Failed.self, on: 4).isEmpty }, "an import of a revoked or unknown handle")
            #expect(c.events(PortholeBufferImportV1BufferAdded.self, on: 4).isEmpty && c.fds.isEmpty)
        }
        #expect(rig.h.host.bufferService?.counters.references == 0)
    }

    @Test func aBufferThatGoesAwayRevokesItsReferences() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let e = try Exported(rig)
        let c = try e.importer()
        try #require(rig.pump { e.importers == [1] })
        let view = try #require(c.events(PortholeBufferImportV1BufferAdded.self, on: 4).first).buffer
        e.producer.send(PortholeBufferV1Destroy(), on: 4)
        #expect(rig.pump { !c.events(PortholeBufferImportV1Revoked.self, on: 4).isEmpty }, "the importer is not told")
        #expect(rig.pump { !c.events(PortholeBufferViewV1Removed.self, on: view).isEmpty })
        c.send(PortholeBufferViewV1Destroy(), on: view)
        #expect(rig.pump { e.released }, "the exporter waits for its importer after the buffer went")
        #expect(rig.h.host.bufferService?.counters.references == 0)

        // A reset: the same for a new buffer, and the producer's end leaves nothing.
        try e.image.publish(on: e.producer, id: 6)
        e.producer.send(PortholeBufferV1Export(id: 7), on: 6)
        #expect(rig.pump { !e.producer.events(PortholeBufferReferenceV1Handle.self, on: 7).isEmpty })
        let handle = e.producer.events(PortholeBufferReferenceV1Handle.self, on: 7).first?.handle ?? []
        let c2 = try e.importer(handle)
        #expect(rig.pump { !c2.events(PortholeBufferImportV1BufferAdded.self, on: 4).isEmpty })
        e.producer.send(PortholeBufferProducerV1Reset(), on: 3)
        #expect(rig.pump { !c2.events(PortholeBufferImportV1Revoked.self, on: 4).isEmpty }, "a reset revokes")
        e.producer.close()
        #expect(rig.pump { rig.h.host.bufferService?.counters.references == 0 && rig.h.host.bufferService?.counters.buffers == 0 })
    }

    @Test func anExportBeforePublishAndTooManyReferencesAreRefused() throws {
        let rig = try BufferSharingRig()
        defer { rig.tearDown() }
        let producer = try rig.producer(version: 2)
        let image = try ProducerImage(width: 8, height: 8)
        producer.send(PortholeBufferProducerV1Register(id: 4, offset: 0, size: UInt32(image.size), application: Array("camera".utf8)), on: 3,
                      fds: [try image.fd.duplicate()])
        producer.send(PortholeBufferV1Export(id: 5), on: 4)
        #expect(rig.pump { producer.displayError != nil })
        #expect(producer.displayError?.object == 4 && producer.displayError?.code == ProducedBufferErrorCode.notPublished.rawValue,
                "\(String(describing: producer.displayError))")

        let e = try Exported(rig)
        for id in UInt32(6)...21 { e.producer.send(PortholeBufferV1Export(id: id), on: 4) }
        #expect(rig.pump { e.producer.displayError != nil })
        #expect(e.producer.displayError?.code == ProducedBufferErrorCode.tooManyReferences.rawValue
                && e.producer.displayError?.message.contains("more than 16 references") == true, "\(String(describing: e.producer.displayError))")
        #expect(rig.pump { rig.h.host.bufferService?.counters.references == 0 }, "the producer's end revoked them all")
    }
}
