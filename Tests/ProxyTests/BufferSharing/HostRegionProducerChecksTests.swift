import BufferService
@testable import Link
import PortholeSystem
@testable import Proxy
import Sharing
import Testing
import Wayland

/// The host's checks on a producer's region buffers, broken on purpose by a
/// raw guest that bypasses the guest proxy: `register_region` must name a
/// registration this guest made for a producer, claimed by no other buffer
/// and large enough; `allocate` never crosses the link.
@Suite("Host checks: producer buffers in the shared region") struct HostRegionProducerChecksTests {
    static let badRegistration = ProducerErrorCode.badRegistration.rawValue

    /// A raw guest that agreed on a 1 MiB region, with a producer bound at v2
    /// and registration 1 (8192 bytes at 8192) made for it; and, if asked,
    /// 2 for a wl_buffer (listed as "wayland-proxy").
    static func setUp(wlBuffer: Bool = false) throws -> (InProcessHost, RawProducer) {
        let h = try InProcessHost(regionSize: 1 << 20)
        let g = try h.connectGuest(offerRegion: true, offerBufferService: true)
        g.send(.bufferRegister(BufferDescriptor(id: 1, application: "camera", ranges: [MemoryRange(offset: 8192, length: 8192)],
                                                properties: [(BufferService.producerRegistrationProperty, "1")])))
        if wlBuffer { g.send(.bufferRegister(BufferDescriptor(id: 2, application: "weston-simple-shm", ranges: [MemoryRange(offset: 16384, length: 8192)],
                                                properties: [("width", "32"), ("height", "32"), ("stride", "128"), ("format", "1")]))) }
        return (h, try RawProducer(h, guest: g, version: 2))
    }

    static func registerRegion(_ p: RawProducer, id: UInt32 = 4, registration: UInt32 = 1, size: UInt32 = 8192) {
        p.send(PortholeBufferProducerV1RegisterRegion(id: id, registration: registration, size: size, application: Array("camera".utf8)), on: 3)
    }

    @Test func aRegistrationOfTheProducersGuestIsAccepted() throws {
        let (h, p) = try Self.setUp()
        defer { h.tearDown() }
        Self.registerRegion(p)
        #expect(h.pump { h.host.bufferService?.counters.buffers == 1 })
        #expect(p.g.displayError(p.channel) == nil)
    }

    @Test func aRegistrationOfAWlBufferIsNoProducers() throws {
        let (h, p) = try Self.setUp(wlBuffer: true)
        defer { h.tearDown() }
        #expect(h.pump { h.host.bufferService?.counters.buffers == 1 }, "the wl_buffer")
        Self.registerRegion(p, registration: 2)
        #expect(h.pump { p.g.channelClose(p.channel) != nil })
        let error = p.g.displayError(p.channel)
        #expect(error?.object == 3 && error?.code == Self.badRegistration
                && error?.message.contains("registration 2 is no unclaimed producer registration") == true, "\(String(describing: error))")
        #expect(h.host.bufferService?.counters.buffers == 1, "the wl_buffer stays listed")
    }

    @Test func anUnknownRegistration() throws {
        let (h, p) = try Self.setUp()
        defer { h.tearDown() }
        Self.registerRegion(p, registration: 99)
        p.expectRefused(object: 3, code: Self.badRegistration, "registration 99 is no unclaimed producer registration")
    }

    @Test func aRegistrationClaimedTwice() throws {
        let (h, p) = try Self.setUp()
        defer { h.tearDown() }
        Self.registerRegion(p, id: 4)
        Self.registerRegion(p, id: 5)
        p.expectRefused(object: 3, code: Self.badRegistration, "registration 1 is no unclaimed producer registration")
    }

    @Test func aBufferLargerThanItsRegistration() throws {
        let (h, p) = try Self.setUp()
        defer { h.tearDown() }
        Self.registerRegion(p, size: 8193)
        p.expectRefused(object: 3, code: Self.badRegistration, "registration 1 holds 8192 bytes, not 8193")
    }

    @Test func anAllocateThatCrossesTheLink() throws {
        let (h, p) = try Self.setUp()
        defer { h.tearDown() }
        p.send(PortholeBufferProducerV1Allocate(id: 4, size: 4096, application: Array("camera".utf8)), on: 3)
        p.expectRefused(object: 3, code: DisplayErrorCode.invalidMethod.rawValue, "allocate may not cross the link", byHost: true)
    }

    @Test func unregisteringTheRegistrationRemovesTheBufferAndItsObjectTurnsInert() throws {
        let (h, p) = try Self.setUp()
        defer { h.tearDown() }
        Self.registerRegion(p)
        p.send(PortholeBufferV1Publish(), on: 4)
        #expect(h.pump { h.host.bufferService?.counters.buffers == 1 })
        p.g.send(.bufferUnregister(id: 1))
        #expect(h.pump { h.host.bufferService?.counters.buffers == 0 })
        // Requests on the object after that mean nothing, and are no error.
        p.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4)
        p.send(PortholeBufferV1Destroy(), on: 4)
        h.settle()
        #expect(p.g.displayError(p.channel) == nil)
        #expect(p.g.channelClose(p.channel) == nil)
    }
}
