import BufferService
import PortholeSystem
@testable import Proxy
import Sharing
import Testing
import Wayland

/// One host with a buffer service and three real guest proxies on its loop:
/// A (named "guest" by the host) serves producers, B ("guest-2") and C
/// ("guest-3") serve consumers. The names come from the host, in the order
/// the links arrive.
final class GuestToGuestRig {
    let h: InProcessHost
    let a: InProcessGuest
    let b: InProcessGuest
    let c: InProcessGuest
    static let nameA = "guest", nameB = "guest-2", nameC = "guest-3"

    /// `commonRegion`: the host declares a sharing region of that many
    /// bytes for A and B (`--shared-region`), which both map; C does not.
    /// `bMapsIt`: false makes B a declared sharer that maps nothing.
    init(bufferLimits: BufferServiceLimits = .patient, commonRegion: Int? = nil, bMapsIt: Bool = true) throws {
        h = try InProcessHost(bufferLimits: bufferLimits)
        let path = h.directory + "/common-region"
        if let size = commonRegion {
            let region = try SharedRegion.host(path: path, size: size)
            h.host.bufferService!.commonRegions = [try CommonRegion(region: region, guests: [Self.nameA, Self.nameB])]
        }
        a = try InProcessGuest(host: h, producers: true, label: "a", commonRegion: commonRegion.map { _ in path })
        b = try InProcessGuest(host: h, consumers: true, label: "b", commonRegion: bMapsIt ? commonRegion.map { _ in path } : nil)
        c = try InProcessGuest(host: h, producers: true, consumers: true, label: "c")
    }

    var service: BufferService { h.host.bufferService! }

    func tearDown() {
        b.shutDown()
        c.shutDown()
        a.tearDown()
    }

    func pump(timeout: Double = 5, _ condition: () -> Bool) -> Bool { h.pump(timeout: timeout, until: condition) }

    /// A producer in A bound at version 3 (grants) as 3.
    func producer(sourceLocation: SourceLocation = #_sourceLocation) throws -> WaylandTestClient {
        let p = try a.connectProducer()
        try #require(p.bindFirstGlobal("porthole_buffer_producer_v1", version: 3, pump: { self.pump($0) }), "no producer global",
                     sourceLocation: sourceLocation)
        return p
    }

    /// A consumer (v2) in `guest`, bound as 3.
    func consumer(in guest: InProcessGuest, sourceLocation: SourceLocation = #_sourceLocation) throws -> WaylandTestClient {
        let c = try guest.connectConsumer()
        try #require(c.bindFirstGlobal("porthole_buffer_consumer_v1", version: 2, pump: { self.pump($0) }), "no consumer global",
                     sourceLocation: sourceLocation)
        return c
    }

    /// A producer of the host itself (the host's producer socket), bound as 3.
    func hostProducer(sourceLocation: SourceLocation = #_sourceLocation) throws -> WaylandTestClient {
        let (mine, theirs) = try Socket.pair()
        try service.serveLocalProducer(socket: theirs)
        let p = try WaylandTestClient(socket: mine, loop: h.loop)
        try #require(p.bindFirstGlobal("porthole_buffer_producer_v1", version: 3, pump: { self.pump($0) }), "no producer global",
                     sourceLocation: sourceLocation)
        return p
    }

    /// Publishes `image` as buffer 4 of `producer` and grants it to `guest`
    /// as reference 5; returns the handle.
    func grant(_ image: ProducerImage, on producer: WaylandTestClient, to guest: String,
               sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        try image.publish(on: producer)
        producer.send(PortholeBufferV1Grant(id: 5, guest: Array(guest.utf8)), on: 4)
        try #require(pump { !producer.events(PortholeBufferReferenceV1Handle.self, on: 5).isEmpty || producer.displayError != nil },
                     sourceLocation: sourceLocation)
        return try #require(producer.events(PortholeBufferReferenceV1Handle.self, on: 5).first, "no handle: \(String(describing: producer.displayError))",
                            sourceLocation: sourceLocation).handle
    }

    /// A new consumer in B that imports `handle` (import object 4) and has
    /// its buffer_added; returns the consumer and that event.
    func imported(_ handle: [UInt8], sourceLocation: SourceLocation = #_sourceLocation)
        throws -> (consumer: WaylandTestClient, added: PortholeBufferImportV1BufferAdded)
    {
        let consumer = try self.consumer(in: b, sourceLocation: sourceLocation)
        consumer.importBuffer(handle)
        try #require(pump { !consumer.events(PortholeBufferImportV1BufferAdded.self, on: 4).isEmpty }, "no buffer_added in B",
                     sourceLocation: sourceLocation)
        return (consumer, consumer.events(PortholeBufferImportV1BufferAdded.self, on: 4)[0])
    }

    /// The host's `guest_consumer_views_copied` stat.
    var copiedViews: Int { h.stats()["guest_consumer_views_copied"] ?? -1 }
}

extension WaylandTestClient {
    /// Imports `handle` as import object `id` on consumer object 3.
    func importBuffer(_ handle: [UInt8], as id: UInt32 = 4) {
        send(PortholeBufferConsumerV1Import(id: id, handle: handle), on: 3)
    }
}
