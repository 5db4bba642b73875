import Glibc
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// A large commit's sync runs in slices on the guest proxy's loop (or, in
/// region mode, on the copy thread): another client's small commit, read
/// while the large one is being synced, reaches the compositor first, and
/// both arrive with every byte.
@Suite("Sliced syncs on the guest proxy") struct SlicedSyncTests {
    /// One raw client with one surface and one buffer of `width` x `height` in a memfd pool.
    final class Window {
        let client: WaylandTestClient
        let memory: SharedMapping
        /// The pool's file (the client's copy of the fd).
        let file: OwnedFD
        let width: Int, height: Int
        /// The compositor connection the host opened for it.
        var compositor: CompositorClient!

        init(_ gp: InProcessGuest, width: Int, height: Int, name: String) throws {
            let h = gp.h
            self.width = width
            self.height = height
            let before = h.compositor.clients.count
            client = try gp.connectClient()
            let size = width * height * 4
            let fd = try Memfd.create(name: name, size: size)
            memory = try SharedMapping(fd: fd, size: size)
            file = fd
            client.send(WlDisplayGetRegistry(registry: 2), on: Wire.displayID)
            try #require(h.pump { self.client.globals()["wl_shm"] != nil })
            let globals = client.globals()
            let comp = try #require(globals["wl_compositor"]), shm = try #require(globals["wl_shm"])
            client.send(WlRegistryBind(name: comp.name, id: UntypedNewID(interface: Array("wl_compositor".utf8), version: 4, id: 3)), on: 2)
            client.send(WlRegistryBind(name: shm.name, id: UntypedNewID(interface: Array("wl_shm".utf8), version: 1, id: 4)), on: 2)
            client.send(WlCompositorCreateSurface(id: 5), on: 3)
            client.send(WlShmCreatePool(id: 6, size: Int32(size)), on: 4, fds: [fd])
            client.send(WlShmPoolCreateBuffer(id: 7, offset: 0, width: Int32(width), height: Int32(height), stride: Int32(width * 4), format: 1), on: 6)
            try #require(h.pump { h.compositor.clients.count > before })
            compositor = h.compositor.clients[before]
        }

        /// Fills the buffer with `byte` and commits it, all damaged.
        func draw(_ byte: UInt8) {
            memset(memory.base!, Int32(byte), width * height * 4)
            client.send(WlSurfaceAttach(buffer: 7, x: 0, y: 0), on: 5)
            client.send(WlSurfaceDamageBuffer(x: 0, y: 0, width: Int32(width), height: Int32(height)), on: 5)
            client.send(WlSurfaceCommit(), on: 5)
        }

        var commits: Int { compositor.messages(named: "wl_surface.commit").count }
    }

    @Test("a small commit read during a 32 MiB sync reaches the compositor before it",
          arguments: [(region: false, copyThread: false), (true, false), (true, true)])
    func aSmallCommitOvertakesALargeSync(region: Bool, copyThread: Bool) throws {
        let big = 4096 * 2048 * 4
        let h = try InProcessHost(regionSize: region ? 128 << 20 : nil)
        let gp = try InProcessGuest(host: h, mapRegion: region, copyThread: copyThread)
        defer { gp.tearDown() }
        let large = try Window(gp, width: 4096, height: 2048, name: "large")
        let small = try Window(gp, width: 64, height: 64, name: "small")
        large.draw(1)
        small.draw(1)
        try #require(h.pump(timeout: 20) { large.commits == 1 && small.commits == 1 })

        // The large client's next commit: one turn reads it and starts its sync.
        large.draw(2)
        let commitsBefore = gp.guest.stats.commits
        try #require(h.pump { gp.guest.stats.commits > commitsBefore })
        small.draw(2)
        try #require(h.pump(timeout: 20) { small.commits == 2 })
        #expect(large.commits == 1, "the large commit, read first, was still being synced when the small one arrived")
        try #require(h.pump(timeout: 20) { large.commits == 2 })
        #expect(SyncTuning.sliceBytes < big / 8)

        // Every byte of both arrived: the host's copy of each pool holds frame 2.
        for w in [large, small] {
            let pool = try #require(w.compositor.messages(named: "wl_shm.create_pool").last?.fds.first, "the compositor got no pool fd")
            let created = try #require(w.compositor.messages(named: "wl_shm_pool.create_buffer").last)
            guard case .int(let at)? = created.args.dropFirst().first else { Issue.record("create_buffer without an offset"); return }
            let offset = Int(at)
            let view = try SharedMapping(fd: pool, size: offset + w.width * w.height * 4, writable: false)
            let bytes = UnsafeRawBufferPointer(start: view.base! + offset, count: w.width * w.height * 4)
            #expect(bytes.allSatisfy { $0 == 2 }, "\(w.width)x\(w.height): not every byte is frame 2's")
        }
    }
}
