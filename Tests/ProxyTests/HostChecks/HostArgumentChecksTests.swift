import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// The host's checks of a request's arguments beyond their encoding, which
/// the adversary found forwarded for the compositor to refuse: objects that
/// do not exist, are of another interface or were destroyed; requests to a
/// destroyed object; new ids that skip ahead; shm formats the compositor
/// never advertised. Each refused on the link side, as in HostWaylandChecksTests.
@Suite("Host checks: arguments") struct HostArgumentChecksTests {
    typealias Setup = HostWaylandChecksTests.Setup
    static let invalidObject = DisplayErrorCode.invalidObject.rawValue
    static let invalidMethod = DisplayErrorCode.invalidMethod.rawValue
    static let invalidFormat = ShmErrorCode.invalidFormat.rawValue

    /// A surface (5) and, in pool 4 (made by `Setup(pool:)`), buffer 6.
    func surfaceAndBuffer(_ s: Setup) {
        s.expectForwarded([bind(1, "wl_compositor", 4, id: 5), wl(5, 0, [.newID(6)]),
                           wl(4, 0, [.newID(7), .int(0), .int(16), .int(16), .int(64), .uint(1)])],
                          names: ["wl_registry.bind", "wl_compositor.create_surface", "wl_shm_pool.create_buffer"])
    }

    // MARK: Enumerations

    /// A value outside the enumeration its argument names (wl_output.transform
    /// has 0 to 7): some compositors switch on it without a default.
    @Test func aValueOutsideItsEnumeration() throws {
        let s = try Setup(pool: true)
        surfaceAndBuffer(s)
        s.expectForwarded([wl(6, 7, [.int(7)])], names: ["wl_surface.set_buffer_transform"])
        s.send([wl(6, 7, [.int(8)])])
        try s.expectRefused(object: 6, code: Self.invalidMethod, "wl_surface.set_buffer_transform: transform 8 is not one of wl_output.transform")
    }

    // MARK: Object arguments

    @Test func objectArgumentThatDoesNotExist() throws {
        let s = try Setup(pool: true)
        surfaceAndBuffer(s)
        s.send([wl(6, 1, [.object(42), .int(0), .int(0)])])  // wl_surface.attach(buffer 42)
        try s.expectRefused(object: 6, code: Self.invalidObject, "wl_surface.attach: buffer 42 does not exist")
    }

    @Test func objectArgumentOfAnotherInterface() throws {
        let s = try Setup(pool: true)
        surfaceAndBuffer(s)
        s.send([wl(6, 1, [.object(4), .int(0), .int(0)])])  // the pool as the buffer
        try s.expectRefused(object: 6, code: Self.invalidObject, "wl_surface.attach: buffer 4 is a wl_shm_pool, not a wl_buffer")
    }

    @Test func objectArgumentDestroyed() throws {
        let s = try Setup(pool: true)
        surfaceAndBuffer(s)
        s.expectForwarded([wl(7, 0, [])], names: ["wl_buffer.destroy"])
        s.send([wl(6, 1, [.object(7), .int(0), .int(0)])])
        try s.expectRefused(object: 6, code: Self.invalidObject, "wl_surface.attach: buffer 7 was destroyed")
    }

    @Test func nullObjectArgumentWhereAllowed() throws {
        let s = try Setup(pool: true)
        surfaceAndBuffer(s)
        s.expectForwarded([wl(6, 1, [.object(0), .int(0), .int(0)]), wl(6, 6, [])], names: ["wl_surface.attach", "wl_surface.commit"])
    }

    @Test func objectArgumentCreatedByTheCompositor() throws {
        // A data offer the compositor made: its id is in the server range.
        let s = try Setup()
        s.expectForwarded([bind(4, "wl_data_device_manager", 3, id: 3), bind(3, "wl_seat", 1, id: 4), wl(3, 1, [.newID(5), .object(4)])],
                          names: ["wl_registry.bind", "wl_registry.bind", "wl_data_device_manager.get_data_device"])
        let offer: UInt32 = 0xFF00_0001
        s.ch.compositor.send(5, 0, [.newID(offer)])
        #expect(s.h.pump { s.g.events(1).contains { $0.objectID == 5 && $0.opcode == 0 } })
        s.expectForwarded([wl(offer, 2, [])], names: ["wl_data_offer.destroy"])
        s.send([wl(offer, 1, [.text("text/plain"), .fd])])
        try s.expectRefused(object: 1, code: Self.invalidObject, "invalid object \(offer)")
    }

    // MARK: Requests to destroyed objects

    @Test func requestToADestroyedPool() throws {
        // Before, ShmPolicy forgot the pool at destroy and let this through unchecked.
        let s = try Setup(pool: true)
        s.expectForwarded([wl(4, 1, [])], names: ["wl_shm_pool.destroy"])
        s.send([wl(4, 0, [.newID(5), .int(0), .int(1000), .int(1000), .int(4000), .uint(1)])])
        try s.expectRefused(object: 1, code: Self.invalidObject, "wl_shm_pool@4 was destroyed")
    }

    // MARK: New ids in sequence

    @Test func newIDSkippingAhead() throws {
        let s = try Setup(shm: true)
        // Ids so far: 1 (display), 2 (registry), 3 (wl_shm): the next may be 4 at most.
        s.send([wl(1, 0, [.newID(10)])])
        try s.expectRefused(object: 1, code: Self.invalidMethod, "wl_display.sync: new id 10 skips ahead of the next id, 4")
    }

    @Test func freedIDsMayBeReusedAndTheNextOneTaken() throws {
        let s = try Setup(shm: true)
        s.expectForwarded([wl(1, 0, [.newID(4)]), wl(1, 0, [.newID(5)])], names: ["wl_display.sync", "wl_display.sync"])
        // The compositor answered and deleted both: 4 may come back, and 6 is next.
        #expect(s.h.pump { s.g.events(1).filter { $0.objectID == 1 && $0.opcode == 1 }.count == 2 })
        s.expectForwarded([wl(1, 0, [.newID(4)]), wl(1, 0, [.newID(6)])], names: ["wl_display.sync", "wl_display.sync"])
    }

    // MARK: shm formats

    /// The compositor advertises `formats` on wl_shm 3 of `s`.
    func advertise(_ s: Setup, _ formats: [UInt32]) {
        for f in formats { s.ch.compositor.send(3, 0, [.uint(f)]) }
        let shown = s.g.events(1).filter { $0.objectID == 3 && $0.opcode == 0 }.count
        _ = s.h.pump(timeout: 0.2) { s.g.events(1).filter { $0.objectID == 3 && $0.opcode == 0 }.count > shown }
        s.h.settle()
    }

    @Test func formatNeverAdvertised() throws {
        let s = try Setup(pool: true)
        advertise(s, [0, 1])
        s.send([wl(4, 0, [.newID(5), .int(0), .int(16), .int(16), .int(64), .uint(0x3432_4258)])])  // XB24
        try s.expectRefused(object: 4, code: Self.invalidFormat, "format 0x34324258 was not advertised")
    }

    @Test func advertisedFormatsAndTheTwoEveryCompositorHasGoThrough() throws {
        let s = try Setup(pool: true)
        advertise(s, [0x3432_4258])
        s.expectForwarded([wl(4, 0, [.newID(5), .int(0), .int(16), .int(16), .int(64), .uint(0x3432_4258)]),
                           wl(4, 0, [.newID(6), .int(0), .int(16), .int(16), .int(64), .uint(0)]),
                           wl(4, 0, [.newID(7), .int(0), .int(16), .int(16), .int(64), .uint(1)])],
                          names: ["wl_shm_pool.create_buffer", "wl_shm_pool.create_buffer", "wl_shm_pool.create_buffer"])
    }

    @Test func formatsTheHostCannotBoundAreNotShownOrAccepted() throws {
        // NV12 takes half as many bytes again as stride x height: a buffer the
        // host checks by stride x height would let the compositor read past it.
        let s = try Setup(pool: true)
        let nv12: UInt32 = 0x3231_564E
        advertise(s, [0, 1, nv12])
        let shown = s.g.events(1).filter { $0.objectID == 3 && $0.opcode == 0 }.compactMap { $0.args(ProtocolTables.builtin["wl_shm"]!.events[0])?.first }
        #expect(shown == [.uint(0), .uint(1)], "\(shown)")
        s.send([wl(4, 0, [.newID(5), .int(0), .int(16), .int(16), .int(16), .uint(nv12)])])
        try s.expectRefused(object: 4, code: Self.invalidFormat, "format 0x3231564e was not advertised")
    }
}
