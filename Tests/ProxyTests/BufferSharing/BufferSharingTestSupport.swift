import BufferService
import Glibc
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// A host with a buffer service, a real guest proxy serving producers, and
/// helpers to drive a raw producer and a raw consumer on the test's loop.
final class BufferSharingRig {
    let h: InProcessHost
    let g: InProcessGuest

    /// `regionSize`: host and guest share a region of that many bytes.
    init(bufferLimits: BufferServiceLimits = .patient, regionSize: Int? = nil) throws {
        h = try InProcessHost(regionSize: regionSize, bufferLimits: bufferLimits)
        g = try InProcessGuest(host: h, mapRegion: regionSize != nil, producers: true)
        if regionSize != nil { try #require(h.pump { self.g.guest.region?.active == true }, "region not agreed") }
    }

    func tearDown() { g.tearDown() }

    func pump(timeout: Double = 5, _ condition: () -> Bool) -> Bool { h.pump(timeout: timeout, until: condition) }

    /// A consumer bound as 3 with one subscription (4) to `application`.
    func consumer(application: String = "camera", guest: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> WaylandTestClient {
        let c = try h.connectConsumer()
        try #require(c.bindFirstGlobal("porthole_buffer_consumer_v1", pump: { self.pump($0) }), "no consumer global", sourceLocation: sourceLocation)
        c.send(PortholeBufferConsumerV1Subscribe(id: 4, application: Array(application.utf8), guest: guest.map { Array($0.utf8) }), on: 3)
        return c
    }

    /// A producer on the guest proxy, bound as 3.
    func producer(version: UInt32 = 1, sourceLocation: SourceLocation = #_sourceLocation) throws -> WaylandTestClient {
        let p = try g.connectProducer()
        try #require(p.bindFirstGlobal("porthole_buffer_producer_v1", version: version, pump: { self.pump($0) }), "no producer global",
                     sourceLocation: sourceLocation)
        return p
    }
}

/// A producer's memory: a memfd of width x height XRGB pixels, mapped.
final class ProducerImage {
    let width: Int
    let height: Int
    let fd: OwnedFD
    let mapping: SharedMapping
    var stride: Int { width * 4 }
    var size: Int { stride * height }

    init(width: Int, height: Int) throws {
        self.width = width
        self.height = height
        fd = try Memfd.create(name: "test-producer", size: width * height * 4)
        mapping = try SharedMapping(fd: fd, size: width * height * 4)
    }

    /// Fills every byte from `value(offset)`.
    func fill(_ value: (Int) -> UInt8) {
        let p = mapping.base!.assumingMemoryBound(to: UInt8.self)
        for i in 0..<size { p[i] = value(i) }
    }

    /// Paints a rectangle with one byte value.
    func paint(x: Int, y: Int, width w: Int, height h: Int, _ value: UInt8) {
        let p = mapping.base!.assumingMemoryBound(to: UInt8.self)
        for row in y..<(y + h) { for i in (row * stride + x * 4)..<(row * stride + (x + w) * 4) { p[i] = value } }
    }

    var bytes: [UInt8] { Array(mapping.bytes(at: 0, count: size)) }

    /// register (as `id`, on producer object 3), the four image properties, publish.
    func publish(on p: WaylandTestClient, id: UInt32 = 4, application: String = "camera") throws {
        p.send(PortholeBufferProducerV1Register(id: id, offset: 0, size: UInt32(size), application: Array(application.utf8)), on: 3,
               fds: [try fd.duplicate()])
        for (name, value) in [("width", "\(width)"), ("height", "\(height)"), ("stride", "\(stride)"), ("format", "XRGB8888")] {
            p.send(PortholeBufferV1SetProperty(name: Array(name.utf8), value: Array(value.utf8)), on: id)
        }
        p.send(PortholeBufferV1Publish(), on: id)
    }
}

/// The bytes `size` long at `offset` of a consumer's fd, read through a
/// read-only mapping as a consumer would.
func consumerBytes(_ fd: OwnedFD, offset: Int, size: Int) throws -> [UInt8] {
    let m = try SharedMapping(fd: fd, size: offset + size, writable: false)
    return Array(m.bytes(at: offset, count: size))
}

extension WaylandTestClient {
    /// The views added on subscription `subscription`, with their fds (in order).
    func addedViews(on subscription: UInt32 = 4) -> [(event: PortholeBufferSubscriptionV1BufferAdded, fd: OwnedFD?)] {
        let added = events(PortholeBufferSubscriptionV1BufferAdded.self, on: subscription)
        return added.enumerated().map { ($0.element, $0.offset < fds.count ? fds[$0.offset] : nil) }
    }
}
