@testable import BufferService
import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import Sharing
import Testing
import Wayland

/// The Wayland proxy as an application of the buffer service: buffers a
/// guest registers in the shared region reach consumers of "wayland-proxy"
/// as the region, read-only, at the wl_buffer's offset.
@Suite("Buffer sharing: the wayland-proxy application") struct WaylandProxyApplicationTests {
    static let regionSize = 1 << 20

    /// A host with a region, a raw guest that agreed on it, and a consumer of "wayland-proxy".
    struct Setup {
        let h: InProcessHost
        let g: RawGuestLink
        let consumer: WaylandTestClient

        init() throws {
            let host = try InProcessHost(regionSize: WaylandProxyApplicationTests.regionSize)
            let c = try host.connectConsumer()
            h = host
            consumer = c
            g = try host.connectGuest(offerRegion: true)
            try #require(c.bindFirstGlobal("porthole_buffer_consumer_v1", pump: { host.pump(until: $0) }))
            c.send(PortholeBufferConsumerV1Subscribe(id: 4, application: Array("wayland-proxy".utf8), guest: nil), on: 3)
        }

        /// A 16x16 XRGB8888 wl_buffer at region offset 8256, registered widened to 64-byte alignment, as the guest proxy does.
        func register(id: UInt32 = 7) {
            g.send(.bufferRegister(BufferDescriptor(id: id, application: "weston-simple-shm", ranges: [MemoryRange(offset: 8192, length: 1152)],
                                                    properties: [("width", "16"), ("height", "16"), ("stride", "64"), ("format", "1"), ("offset", "8256")])))
        }
    }

    @Test func aRegisteredWlBufferIsListedWithItsPropertiesAndTheRegionReadOnly() throws {
        let s = try Setup()
        defer { s.h.tearDown() }
        s.register()
        try #require(s.h.pump { s.consumer.addedViews().count == 1 }, "no buffer_added")
        let (added, fd) = s.consumer.addedViews()[0]
        #expect(added.application == Array("wayland-proxy".utf8) && added.guest == Array("guest".utf8))
        #expect(added.offset == 8256 && added.size == 16 * 64)
        let view = added.buffer
        try #require(s.h.pump { !s.consumer.events(PortholeBufferViewV1Done.self, on: view).isEmpty })
        let properties = s.consumer.events(PortholeBufferViewV1Property.self, on: view)
            .map { String(decoding: $0.name, as: UTF8.self) + "=" + String(decoding: $0.value, as: UTF8.self) }
        #expect(properties == ["format=XRGB8888", "height=16", "offset=8256", "stride=64", "width=16", "client=weston-simple-shm"])
        let file = try #require(fd)
        #expect(mmap(nil, Self.regionSize, PROT_READ | PROT_WRITE, MAP_SHARED, file.rawValue, 0) == MAP_FAILED, "a writable mapping of the region")
        // What the guest writes into the region is what the consumer reads: no copy.
        let region = try SharedMapping(fd: try #require(s.h.region).fd, size: Self.regionSize)
        for i in 0..<(16 * 64) { region.base!.storeBytes(of: UInt8(truncatingIfNeeded: i * 3), toByteOffset: 8256 + i, as: UInt8.self) }
        #expect(try consumerBytes(file, offset: 8256, size: 16 * 64) == (0..<(16 * 64)).map { UInt8(truncatingIfNeeded: $0 * 3) })
    }

    @Test func unregisterRemovesAndAResetOrTheLinksEndResets() throws {
        let s = try Setup()
        defer { s.h.tearDown() }
        s.register(id: 7)
        s.register(id: 8)
        try #require(s.h.pump { s.consumer.addedViews().count == 2 })
        let (v7, v8) = (s.consumer.addedViews()[0].event.buffer, s.consumer.addedViews()[1].event.buffer)
        s.g.send(.bufferUnregister(id: 7))
        #expect(s.h.pump { !s.consumer.events(PortholeBufferViewV1Removed.self, on: v7).isEmpty })
        #expect(s.consumer.events(PortholeBufferSubscriptionV1Reset.self, on: 4).isEmpty, "an unregister is no reset")
        s.g.send(.registryReset)
        #expect(s.h.pump { !s.consumer.events(PortholeBufferViewV1Removed.self, on: v8).isEmpty })
        #expect(s.h.pump { s.consumer.events(PortholeBufferSubscriptionV1Reset.self, on: 4).count == 1 })
        s.register(id: 9)
        try #require(s.h.pump { s.consumer.addedViews().count == 3 })
        s.g.endpoint.close(reason: "guest gone")
        #expect(s.h.pump { s.consumer.events(PortholeBufferSubscriptionV1Reset.self, on: 4).count == 2 })
        #expect(s.h.pump { !s.consumer.events(PortholeBufferSubscriptionV1GuestDisconnected.self, on: 4).isEmpty })
        #expect(s.h.host.bufferService?.counters.buffers == 0)
        #expect(s.h.host.bufferService?.regionFiles.isEmpty == true, "the region's read-only fd is still open")
    }

    @Test func aBufferOfSeveralRangesIsNotListedAndBadOffsetsFallBackToTheRange() throws {
        let s = try Setup()
        defer { s.h.tearDown() }
        s.g.send(.bufferRegister(BufferDescriptor(id: 1, application: "a", ranges: [MemoryRange(offset: 4096, length: 64), MemoryRange(offset: 8192, length: 64)])))
        // An offset before the range, and a stride x height past it: the whole range is shown.
        s.g.send(.bufferRegister(BufferDescriptor(id: 2, application: "b", ranges: [MemoryRange(offset: 16384, length: 128)],
                                                  properties: [("offset", "0"), ("stride", "64"), ("height", "2")])))
        s.g.send(.bufferRegister(BufferDescriptor(id: 3, application: "c", ranges: [MemoryRange(offset: 32768, length: 128)],
                                                  properties: [("offset", "32768"), ("stride", "64"), ("height", "99999999999")])))
        try #require(s.h.pump { s.consumer.addedViews().count == 2 })
        s.h.settle()
        #expect(s.consumer.addedViews().map { [$0.event.offset, $0.event.size] } == [[16384, 128], [32768, 128]])
    }

    @Test func eachCommitOfTheWlBufferIsAnUpdateWithItsDamageAndTheNextSequence() throws {
        let s = try Setup()
        defer { s.h.tearDown() }
        s.register()
        try #require(s.h.pump { s.consumer.addedViews().count == 1 })
        let view = s.consumer.addedViews()[0].event.buffer
        // A client of the guest: wl_compositor (4), a pool on the region (5),
        // the wl_buffer at 8256 (6) and a surface (7).
        let ch = try s.h.openClient(1, on: s.g, bindShm: true)
        s.g.request(1, 2, 0, [.uint(1), .untypedNewID(interface: Array("wl_compositor".utf8), version: 4, id: 4)])
        s.g.send(.resourceOpen(channel: 1, resource: 9, kind: .region, size: UInt64(WaylandProxyApplicationTests.regionSize)))
        s.g.request(1, 3, 0, [.newID(5), .fd, .int(Int32(WaylandProxyApplicationTests.regionSize))], resources: [9])
        s.g.wayland(1, [WlShmPoolCreateBuffer(id: 6, offset: 8256, width: 16, height: 16, stride: 64, format: 1).encode(objectID: 5),
                        WlCompositorCreateSurface(id: 7).encode(objectID: 4)])
        func commit(_ requests: [[UInt8]]) { s.g.wayland(1, requests + [WlSurfaceCommit().encode(objectID: 7)]) }
        var updates: [PortholeBufferViewV1Updated] { s.consumer.events(PortholeBufferViewV1Updated.self, on: view) }
        func rects(_ u: PortholeBufferViewV1Updated) -> [Int32] { u.damage.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) } }

        commit([WlSurfaceAttach(buffer: 6, x: 0, y: 0).encode(objectID: 7), WlSurfaceDamageBuffer(x: 2, y: 3, width: 4, height: 5).encode(objectID: 7)])
        try #require(s.h.pump { updates.count == 1 }, "no updated for the commit")
        #expect(updates[0].sequence == 1 && rects(updates[0]) == [2, 3, 4, 5])
        // A commit that attaches nothing new is no new content.
        commit([WlSurfaceDamage(x: 0, y: 0, width: 1, height: 1).encode(objectID: 7)])
        commit([WlSurfaceAttach(buffer: 6, x: 0, y: 0).encode(objectID: 7), WlSurfaceDamage(x: 1, y: 1, width: 2, height: 2).encode(objectID: 7)])
        try #require(s.h.pump { updates.count == 2 })
        #expect(updates[1].sequence == 2 && rects(updates[1]) == [1, 1, 2, 2], "surface damage on a plain surface is buffer damage")
        // With a buffer scale, surface damage is no buffer damage: the whole buffer.
        commit([WlSurfaceSetBufferScale(scale: 2).encode(objectID: 7), WlSurfaceAttach(buffer: 6, x: 0, y: 0).encode(objectID: 7),
                WlSurfaceDamage(x: 1, y: 1, width: 2, height: 2).encode(objectID: 7)])
        try #require(s.h.pump { updates.count == 3 })
        #expect(updates[2].sequence == 3 && updates[2].damage.isEmpty)
        #expect(ch.compositor.messages(named: "wl_surface.commit").count == 4, "every commit reaches the compositor")
        s.consumer.send(PortholeBufferViewV1Release(sequence: 3), on: view)
        s.h.settle()
        #expect(!s.consumer.sawEOF)
    }

    @Test func aConsumerNotTrustedWithTheRegionGetsCopiesOfWindowsUpToTheGuestsQuota() throws {
        var limits = BufferServiceLimits()
        limits.regionCopiesPerGuest = 2
        let host = try InProcessHost(regionSize: Self.regionSize, bufferLimits: limits)
        defer { host.tearDown() }
        try #require(host.host.bufferService).regionConsumers = []
        let c = try host.connectConsumer()
        try #require(c.bindFirstGlobal("porthole_buffer_consumer_v1", pump: { host.pump(until: $0) }))
        c.send(PortholeBufferConsumerV1Subscribe(id: 4, application: Array("wayland-proxy".utf8), guest: nil), on: 3)
        let g = try host.connectGuest(offerRegion: true)
        let region = try SharedMapping(fd: try #require(host.region).fd, size: Self.regionSize)
        for i in 0..<1152 { region.base!.storeBytes(of: UInt8(truncatingIfNeeded: i * 7), toByteOffset: 8192 + i, as: UInt8.self) }
        for (id, offset) in [(UInt32(1), UInt64(8192)), (2, 16384), (3, 24576)] {
            g.send(.bufferRegister(BufferDescriptor(id: id, application: "weston-simple-shm", ranges: [MemoryRange(offset: offset, length: 1152)])))
        }
        try #require(host.pump { c.addedViews().count == 2 }, "no copies")
        host.settle()
        #expect(c.addedViews().count == 2, "a third copy past the guest's quota of 2")
        let (added, fd) = c.addedViews()[0]
        let file = try #require(fd)
        let copySize = try file.fileSize()
        #expect(added.offset == 0 && copySize == 1152, "a copy, not the region")
        #expect(try consumerBytes(file, offset: 0, size: 1152) == (0..<1152).map { UInt8(truncatingIfNeeded: $0 * 7) })
        // Unregistering one gives its copy back: the next window is shown.
        g.send(.bufferUnregister(id: 1))
        g.send(.bufferRegister(BufferDescriptor(id: 4, application: "weston-simple-shm", ranges: [MemoryRange(offset: 32768, length: 1152)])))
        #expect(host.pump { c.addedViews().count == 3 })
    }
}
