import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import Sharing
import Testing
import Wayland

/// The host's checks in shared-region mode (docs/link-protocol.md §11): the
/// agreement, the buffer registry and region pools, each broken on purpose
/// by a raw guest. The host's region is a 4 MiB file in the fixture's
/// temporary directory.
@Suite("Host checks: shared region") struct HostRegionChecksTests {
    static let size = 4 << 20

    static func register(_ id: UInt32, _ offset: UInt64, _ length: UInt64) -> LinkFrame {
        .bufferRegister(BufferDescriptor(id: id, application: "raw", ranges: [MemoryRange(offset: offset, length: length)]))
    }

    /// Mappings of `path` in this process.
    static func mappings(of path: String) -> Int {
        // procfs files report no size: read until end of file.
        let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return -1 }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        let maps = String(decoding: bytes, as: UTF8.self)
        return maps.split(separator: "\n").filter { $0.hasSuffix(path) }.count
    }

    // MARK: The agreement

    @Test func regionInfoFromAGuestThatDidNotOfferTheFeature() throws {
        try InProcessHost.expectLinkError("unexpected regionInfo", regionSize: Self.size) { _, g in
            g.send(.regionInfo(size: UInt64(Self.size), tag: Array(repeating: 0, count: 16)))
        }
    }

    @Test func regionInfoOfAnotherSize() throws {
        try InProcessHost.expectLinkError("the guest's is 8388608 bytes", regionSize: Self.size, offerRegion: true, agreeOnRegion: false) { _, g in
            let info = try #require(g.hostRegion)
            g.send(.regionInfo(size: info.size * 2, tag: info.tag))
        }
    }

    @Test func regionInfoWithAnotherTag() throws {
        try InProcessHost.expectLinkError("both are 4194304 bytes but hold different memory", regionSize: Self.size,
                                          offerRegion: true, agreeOnRegion: false) { _, g in
            let info = try #require(g.hostRegion)
            g.send(.regionInfo(size: info.size, tag: info.tag.map { $0 ^ 0xFF }))
        }
    }

    @Test func secondRegionInfo() throws {
        try InProcessHost.expectLinkError("unexpected regionInfo", regionSize: Self.size, offerRegion: true) { _, g in
            try g.agreeOnRegion()
        }
    }

    @Test(arguments: [
        (HostRegionChecksTests.register(1, 4096, 4096), "buffer 1 registered before the region was agreed"),
        (.bufferUnregister(id: 1), "unregister before the region was agreed"),
        (.registryReset, "reset before the region was agreed"),
    ])
    func registryFrameBeforeTheAgreement(_ frame: LinkFrame, _ fragment: String) throws {
        try InProcessHost.expectLinkError(fragment, regionSize: Self.size, offerRegion: true, agreeOnRegion: false) { _, g in g.send(frame) }
    }

    @Test func regionResourceBeforeTheAgreement() throws {
        try InProcessHost.expectLinkError("none was agreed", regionSize: Self.size, offerRegion: true, agreeOnRegion: false) { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .region, size: UInt64(Self.size)))
        }
    }

    @Test func regionFramesOnALinkWithoutTheFeature() throws {
        try InProcessHost.expectLinkError("none was agreed", regionSize: Self.size) { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .region, size: UInt64(Self.size)))
        }
        try InProcessHost.expectLinkError("buffer 1 registered before the region was agreed", regionSize: Self.size) { _, g in
            g.send(Self.register(1, 4096, 64))
        }
    }

    // MARK: The buffer registry

    @Test(arguments: [
        ([HostRegionChecksTests.register(1, UInt64(HostRegionChecksTests.size) - 4096, 8192)], "buffer 1: range [4190208, +8192) lies outside the region's buffer area"),
        ([HostRegionChecksTests.register(1, 0, 4096)], "buffer 1: range [0, +4096) lies outside the region's buffer area"),
        ([HostRegionChecksTests.register(1, 4096, 100)], "buffer 1: range [4096, +100) is not aligned to 64 bytes"),
        ([HostRegionChecksTests.register(1, 4096, 4096), HostRegionChecksTests.register(1, 16384, 4096)], "buffer 1 is already registered"),
        ([HostRegionChecksTests.register(1, 4096, 4096), .bufferUnregister(id: 1), .bufferUnregister(id: 1)], "buffer 1 is not registered"),
        ([.bufferRegister(BufferDescriptor(id: 2, size: 8192, application: Array("raw".utf8), ranges: [MemoryRange(offset: 4096, length: 4096)], properties: []))],
         "buffer 2: size 8192 but its ranges hold 4096 bytes"),
    ])
    func registryRefuses(_ frames: [LinkFrame], _ fragment: String) throws {
        try InProcessHost.expectLinkError(fragment, regionSize: Self.size, offerRegion: true) { h, g in
            for f in frames { g.send(f) }
        }
    }

    @Test func theHostMapsOnlyTheHeaderPageAndForgetsWhatALinkRegistered() throws {
        let h = try InProcessHost(regionSize: Self.size)
        defer { h.tearDown() }
        let path = try #require(h.region).path
        #expect(Self.mappings(of: path) == 1)
        let g = try h.connectGuest(offerRegion: true)
        g.send(Self.register(1, 4096, 4096))
        g.send(Self.register(2, 8192, 4096))
        #expect(h.pump { h.stats()["registered_buffers"] == 2 })
        g.send(.bufferUnregister(id: 1))
        #expect(h.pump { h.stats()["registered_buffers"] == 1 })
        g.endpoint.close(reason: "guest goes away")
        #expect(h.pump { h.stats()["registered_buffers"] == 0 && h.stats()["region_links"] == 0 && h.stats()["links"] == 0 })
        #expect(h.stats()["link_errors"] == 0)
        #expect(Self.mappings(of: path) == 1)
    }

    // MARK: Region resources

    @Test func regionResourceOfAnotherSize() throws {
        try InProcessHost.expectLinkError("resource 5 names a 8388608-byte region; the shared region is 4194304 bytes",
                                          regionSize: Self.size, offerRegion: true) { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .region, size: UInt64(Self.size) * 2))
        }
    }

    @Test func updateToTheRegion() throws {
        try InProcessHost.expectLinkError("resource 5 is the shared region, which takes no updates over the link",
                                          regionSize: Self.size, offerRegion: true) { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .region, size: UInt64(Self.size)))
            g.send(.resourceUpdate(channel: 1, resource: 5, ranges: [UpdateRange(offset: 4096, length: 4)], bytes: [1, 2, 3, 4]))
        }
    }

    @Test func extendOfTheRegion() throws {
        try InProcessHost.expectLinkError("resource 5 is the shared region, which cannot be extended",
                                          regionSize: Self.size, offerRegion: true) { h, g in
            _ = try h.openChannel(1, on: g)
            g.send(.resourceOpen(channel: 1, resource: 5, kind: .region, size: UInt64(Self.size)))
            g.send(.resourceExtend(channel: 1, resource: 5, size: UInt64(Self.size) * 2))
        }
    }

    // MARK: Pools in the region

    /// A guest that agreed on the region, with wl_shm (3) and a pool (4) on
    /// the region (resource 9) on channel 1.
    final class RegionPool {
        let h: InProcessHost
        let g: RawGuestLink
        let ch: InProcessHost.Channel
        var forwarded = ["wl_display.get_registry", "wl_registry.bind", "wl_shm.create_pool"]
        /// The client's next new id: ids come in sequence.
        private var nextID: UInt32 = 5

        init(sourceLocation: SourceLocation = #_sourceLocation) throws {
            h = try InProcessHost(regionSize: HostRegionChecksTests.size)
            g = try h.connectGuest(offerRegion: true, sourceLocation: sourceLocation)
            ch = try h.openClient(1, on: g, bindShm: true, sourceLocation: sourceLocation)
            g.send(.resourceOpen(channel: 1, resource: 9, kind: .region, size: UInt64(HostRegionChecksTests.size)))
            g.request(1, 3, 0, [.newID(4), .fd, .int(Int32(HostRegionChecksTests.size))], resources: [9])
            try #require(h.pump { self.ch.compositor.messages.count == 3 }, sourceLocation: sourceLocation)
        }

        /// wl_shm_pool.create_buffer of 64x64 xrgb8888 at `offset` with new id `id`.
        static func buffer(_ id: UInt32, at offset: Int32) -> [UInt8] {
            wl(4, 0, [.newID(id), .int(offset), .int(64), .int(64), .int(256), .uint(1)])
        }

        /// A buffer at `offset` (and a sync after it) goes through.
        func accepted(at offset: Int32) -> Bool {
            let id = nextID
            nextID += 2
            g.wayland(1, [Self.buffer(id, at: offset), wl(1, 0, [.newID(id + 1)])])
            forwarded += ["wl_shm_pool.create_buffer", "wl_display.sync"]
            return h.pump { self.g.events(1).contains { $0.objectID == id + 1 } || self.g.channelClose(1) != nil }
                && g.channelClose(1) == nil && ch.compositor.messages.map { $0.name ?? "?" } == forwarded
        }

        func expectRefused(at offset: Int32, sourceLocation: SourceLocation = #_sourceLocation) throws {
            g.wayland(1, [Self.buffer(nextID, at: offset)])
            try h.expectRefused(g, ch, object: 4, code: ShmErrorCode.invalidStride.rawValue,
                                "buffer at shared-region offset \(offset) (16384 bytes) is not inside a registered buffer",
                                forwarded: forwarded, sourceLocation: sourceLocation)
        }

        deinit { h.tearDown() }
    }

    @Test func theCompositorGetsTheRegionItself() throws {
        let p = try RegionPool()
        let fd = try #require(p.ch.compositor.messages(named: "wl_shm.create_pool").first?.fds.first)
        #expect(try #require(p.h.region).isSameFile(fd))
    }

    @Test func bufferOutsideEveryRegisteredBuffer() throws {
        let p = try RegionPool()
        p.g.send(Self.register(1, 4096, 16384))
        #expect(p.accepted(at: 4096))
        try p.expectRefused(at: 4096 + 16384)
    }

    @Test func bufferOverlappingTheEndOfARegisteredBuffer() throws {
        let p = try RegionPool()
        p.g.send(Self.register(1, 4096, 16384))
        try p.expectRefused(at: 4096 + 64)
    }

    @Test func bufferAfterItsMemoryWasUnregistered() throws {
        let p = try RegionPool()
        p.g.send(Self.register(1, 4096, 16384))
        #expect(p.accepted(at: 4096))
        p.g.send(.bufferUnregister(id: 1))
        try p.expectRefused(at: 4096)
    }

    /// The registry is reset mid-frame: buffers made earlier stand, later
    /// ones in the dropped memory are refused for that client only, and the
    /// link stays up.
    @Test func bufferAfterARegistryReset() throws {
        let p = try RegionPool()
        p.g.send(Self.register(1, 4096, 16384))
        #expect(p.accepted(at: 4096))
        p.g.send(.registryReset)
        try p.expectRefused(at: 4096)
        #expect(p.h.stats()["registered_buffers"] == 0)
        #expect(p.h.stats()["link_errors"] == 0)
    }

    @Test func regionPoolLargerThanTheRegion() throws {
        let h = try InProcessHost(regionSize: Self.size)
        defer { h.tearDown() }
        let g = try h.connectGuest(offerRegion: true)
        let ch = try h.openClient(1, on: g, bindShm: true)
        g.send(.resourceOpen(channel: 1, resource: 9, kind: .region, size: UInt64(Self.size)))
        g.request(1, 3, 0, [.newID(4), .fd, .int(Int32(Self.size) + 1)], resources: [9])
        try h.expectRefused(g, ch, object: 3, code: ShmErrorCode.invalidStride.rawValue,
                            "pool of 4194305 bytes on a 4194304-byte resource", forwarded: ["wl_display.get_registry", "wl_registry.bind"])
    }
}
