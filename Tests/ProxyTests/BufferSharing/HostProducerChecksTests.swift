import BufferService
@testable import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// Every check the host makes on a guest's buffer producer
/// (docs/buffer-sharing.md §5), each broken on purpose by a raw guest that
/// bypasses the guest proxy: the producer gets a Wayland error, its channel
/// closes, the service forgets it, and nothing else is touched.
@Suite("Host checks: buffer producers") struct HostProducerChecksTests {
    static let invalidObject = DisplayErrorCode.invalidObject.rawValue
    static let invalidMethod = DisplayErrorCode.invalidMethod.rawValue

    // MARK: The link

    @Test func aProducerChannelOnALinkWithoutTheBufferService() throws {
        try InProcessHost.expectLinkError("channel 1 asks for the buffer service, which this link did not agree on") { _, g in
            g.openChannel(1, service: .bufferService)
        }
    }

    @Test func aHostWithoutABufferServiceDoesNotAgreeToIt() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        h.host.bufferService = nil
        let g = try h.connectGuest(offerBufferService: true)
        #expect(g.endpoint.features & LinkFeatures.bufferService == 0)
        g.openChannel(1, service: .bufferService)
        h.expectLinkClosed(g, "asks for the buffer service")
    }

    // MARK: The host proxy's checks on the channel

    @Test func onlyTheProducerGlobalCanBeBound() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let p = try RawProducer(h, bind: false)
        p.send(WlDisplayGetRegistry(registry: 2), on: 1)
        p.send(WlRegistryBind(name: 1, id: UntypedNewID(interface: Array("wl_shm".utf8), version: 1, id: 3)), on: 2)
        p.expectRefused(object: 1, code: Self.invalidObject, "only porthole_buffer_producer_v1 can be bound", byHost: true)
    }

    @Test func aBufferOutsideItsResource() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let p = try RawProducer(h)
        p.memory(1, size: 4096)
        p.send(PortholeBufferProducerV1Register(id: 4, offset: 64, size: 4096, application: Array("camera".utf8)), on: 3, resources: [1])
        p.expectRefused(object: 3, code: Self.invalidMethod, "buffer 64+4096 lies outside its 4096-byte resource", byHost: true)
    }

    @Test func aBufferOnTheSharedRegion() throws {
        let h = try InProcessHost(regionSize: 1 << 20)
        defer { h.tearDown() }
        let g = try h.connectGuest(offerRegion: true, offerBufferService: true)
        let p = try RawProducer(h, guest: g)
        g.send(.resourceOpen(channel: 1, resource: 1, kind: .region, size: 1 << 20))
        p.send(PortholeBufferProducerV1Register(id: 4, offset: 4096, size: 4096, application: Array("camera".utf8)), on: 3, resources: [1])
        p.expectRefused(object: 3, code: Self.invalidMethod, "register needs a resource of the guest's memory", byHost: true)
    }

    // MARK: The buffer service's checks

    static let producer = ProducerErrorCode.self
    static let buffer = ProducedBufferErrorCode.self

    /// A request after a buffer (4) was registered on resource 1 and, unless
    /// said, published; the error the service answers.
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var publish = true
        var requests: @Sendable (RawProducer) -> Void
        var object: UInt32
        var code: UInt32
        var fragment: String
        /// Refused by the host proxy's own checks before the service sees it.
        var byHost = false
        var description: String { name }
    }

    static let serviceCases: [Case] = [
        Case(name: "property name too long", publish: false, requests: { $0.send(PortholeBufferV1SetProperty(name: Array(repeating: 0x61, count: 65), value: []), on: 4) },
             object: 4, code: buffer.badProperty.rawValue, fragment: "property names are 1 to 64 bytes"),
        Case(name: "property name with a space", publish: false, requests: { $0.send(PortholeBufferV1SetProperty(name: Array("a b".utf8), value: []), on: 4) },
             object: 4, code: buffer.badProperty.rawValue, fragment: "property names are 1 to 64 bytes"),
        Case(name: "property value too long", publish: false,
             requests: { $0.send(PortholeBufferV1SetProperty(name: Array("w".utf8), value: Array(repeating: 0x61, count: 257)), on: 4) },
             object: 4, code: buffer.badProperty.rawValue, fragment: "the value of w must be at most 256 bytes of UTF-8"),
        Case(name: "property value not UTF-8", publish: false, requests: { $0.send(PortholeBufferV1SetProperty(name: Array("w".utf8), value: [0xFF, 0xFE]), on: 4) },
             object: 4, code: buffer.badProperty.rawValue, fragment: "the value of w must be at most 256 bytes of UTF-8"),
        Case(name: "a property set twice", publish: false, requests: { p in
            for _ in 0..<2 { p.send(PortholeBufferV1SetProperty(name: Array("width".utf8), value: Array("1".utf8)), on: 4) }
        }, object: 4, code: buffer.badProperty.rawValue, fragment: "width is set twice"),
        Case(name: "a million properties", publish: false, requests: { p in
            for i in 0..<1_000_000 {
                p.send(PortholeBufferV1SetProperty(name: Array("p\(i)".utf8), value: []), on: 4)
                if i % 64 == 63 { p.h.loop.runOnce(timeout: 0); if p.g.channelClose(p.channel) != nil { return } }
            }
        }, object: 4, code: buffer.badProperty.rawValue, fragment: "more than 32 properties"),
        Case(name: "a property after publish", requests: { $0.send(PortholeBufferV1SetProperty(name: Array("w".utf8), value: []), on: 4) },
             object: 4, code: buffer.published.rawValue, fragment: "set_property after publish"),
        Case(name: "publish twice", requests: { $0.send(PortholeBufferV1Publish(), on: 4) },
             object: 4, code: buffer.published.rawValue, fragment: "published twice"),
        Case(name: "update before publish", publish: false, requests: { $0.send(PortholeBufferV1Update(x: 0, y: 0, width: 1, height: 1), on: 4) },
             object: 4, code: buffer.notPublished.rawValue, fragment: "update before publish"),
        Case(name: "present before publish", publish: false, requests: { $0.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4) },
             object: 4, code: buffer.notPublished.rawValue, fragment: "present before publish"),
        Case(name: "damage of negative width", requests: { $0.send(PortholeBufferV1Update(x: 0, y: 0, width: -1, height: 1), on: 4) },
             object: 4, code: buffer.badDamage.rawValue, fragment: "has a negative side"),
        Case(name: "a sequence that does not increase", requests: { p in
            p.send(PortholeBufferV1Present(sequence: 5, renderUsec: 0), on: 4)
            p.send(PortholeBufferV1Present(sequence: 5, renderUsec: 0), on: 4)
        }, object: 4, code: buffer.badSequence.rawValue, fragment: "sequence 5 after 5"),
        Case(name: "an update for an object that is no buffer of this producer", requests: { $0.send(PortholeBufferV1Update(x: 0, y: 0, width: 1, height: 1), on: 40) },
             object: 1, code: invalidObject, fragment: "invalid object 40", byHost: true),
    ]

    @Test(arguments: serviceCases)
    func theServiceRefuses(_ c: Case) throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let p = try RawProducer(h)
        p.register(4, rid: 1, size: 4096, publish: c.publish)
        c.requests(p)
        p.expectRefused(object: c.object, code: c.code, c.fragment, byHost: c.byHost)
    }

    @Test(arguments: [("", "application must be 1 to 256 bytes of UTF-8"), (String(repeating: "a", count: 257), "application must be 1 to 256 bytes"),
                      ("*", "not \"*\"")])
    func aBadApplication(_ application: String, _ fragment: String) throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let p = try RawProducer(h)
        p.register(4, rid: 1, size: 4096, application: application)
        p.expectRefused(object: 3, code: Self.producer.badApplication.rawValue, fragment)
    }

    @Test func anEmptyBuffer() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let p = try RawProducer(h)
        p.memory(1, size: 4096)
        p.send(PortholeBufferProducerV1Register(id: 4, offset: 0, size: 0, application: Array("camera".utf8)), on: 3, resources: [1])
        p.expectRefused(object: 3, code: Self.producer.badRange.rawValue, "a buffer of 0 bytes")
    }

    @Test func aRegistrationFloodMeetsTheGuestsQuotaOfBuffers() throws {
        var limits = BufferServiceLimits()
        limits.buffersPerGuest = 3
        let h = try InProcessHost(bufferLimits: limits)
        defer { h.tearDown() }
        let p = try RawProducer(h)
        for i in 0..<4 { p.register(UInt32(4 + i), rid: UInt32(1 + i), size: 4096) }
        p.expectRefused(object: 3, code: Self.producer.quota.rawValue, "guest guest has 3 buffers, the most the host allows")
    }

    @Test func theGuestsQuotaOfBytesCountsEveryProducerOfTheGuest() throws {
        var limits = BufferServiceLimits()
        limits.bytesPerGuest = 3 * 4096
        let h = try InProcessHost(bufferLimits: limits)
        defer { h.tearDown() }
        let first = try RawProducer(h, channel: 1)
        first.register(4, rid: 1, size: 2 * 4096)
        try #require(h.pump { h.host.bufferService?.counters.buffers == 1 })
        let second = try RawProducer(h, guest: first.g, channel: 2)
        second.register(4, rid: 1, size: 2 * 4096)
        #expect(h.pump { second.g.displayError(2) != nil })
        let error = second.g.displayError(2)
        #expect(error?.code == Self.producer.quota.rawValue && error?.message.contains("would hold 16384 bytes (limit 12288)") == true, "\(String(describing: error))")
        // Only the offender went: the first producer is served as before.
        first.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4)
        #expect(h.pump { first.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) == [1] })
        #expect(h.host.bufferService?.counters.buffers == 1 && first.g.channelClose(1) == nil)
    }

    @Test func aProducerCannotNameAnotherProducersBuffer() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let owner = try RawProducer(h, channel: 1)
        owner.register(4, rid: 1, size: 4096)
        try #require(h.pump { h.host.bufferService?.counters.buffers == 1 })
        let other = try RawProducer(h, channel: 1)  // another guest
        other.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4)
        #expect(h.pump { other.g.displayError(1) != nil })
        #expect(other.g.displayError(1)?.message.contains("invalid object 4") == true)
        owner.send(PortholeBufferV1Present(sequence: 1, renderUsec: 0), on: 4)
        #expect(h.pump { owner.events(PortholeBufferV1Released.self, on: 4).map(\.sequence) == [1] })
    }
}
