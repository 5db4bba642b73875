import Foundation
import Glibc
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// The guest proxy's own zwp_linux_dmabuf_v1, through both proxies to the
/// scripted compositor in this process. This host has no dma-buf, so these
/// tests cover the protocol: what is offered, what the compositor sees
/// instead (wl_shm only), and the errors for bad planes and for fds that
/// are not dma-bufs (memfds here). A real dma-buf's pixels reaching weston
/// are `GPUBufferVMTests`, in a QEMU guest with vgem.
@Suite struct LinuxDmabufExtensionTests {
    static let xrgb: UInt32 = 0x3432_5258 // "XR24"
    static let argb: UInt32 = 0x3432_5241 // "AR24"
    static let dmabufName = LinuxDmabufExtension.globalName

    final class Chain {
        let h: InProcessHost
        let gp: InProcessGuest
        let c: WaylandTestClient

        /// A client with its registry (2), the sync (3) answered, and
        /// linux-dmabuf bound as 4 at `version`.
        init(version: UInt32 = 4, offer: Bool = true) throws {
            h = try InProcessHost()
            gp = try InProcessGuest(host: h)
            gp.guest.offerDmabuf = offer
            c = try gp.connectClient()
            c.send(WlDisplayGetRegistry(registry: 2), on: Wire.displayID)
            c.send(WlDisplaySync(callback: 3), on: Wire.displayID)
            try #require(h.pump { self.c.messages.contains { $0.objectID == 3 } })
            guard offer else { return }
            c.send(WlRegistryBind(name: LinuxDmabufExtensionTests.dmabufName,
                                  id: UntypedNewID(interface: Array("zwp_linux_dmabuf_v1".utf8), version: version, id: 4)), on: 2)
            try #require(h.pump { !self.compositor.messages(named: "wl_registry.bind").isEmpty })
        }

        var compositor: CompositorClient { h.compositor.clients[0] }

        /// The client got a wl_display.error with `code` about `object` and was cut off; the link stays.
        func expectError(object: UInt32, code: DmabufParamsErrorCode, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(h.pump { self.c.sawEOF }, "the client was not disconnected", sourceLocation: sourceLocation)
            let e = c.displayError
            #expect(e?.object == object && e?.code == code.rawValue && e?.message.contains(fragment) == true,
                    "error: \(e.map { "\($0)" } ?? "none")", sourceLocation: sourceLocation)
            #expect(compositor.messages(named: "wl_shm_pool.create_buffer").isEmpty, "the compositor got a buffer", sourceLocation: sourceLocation)
            #expect(h.stats()["links"] == 1 && h.stats()["link_errors"] == 0, "\(h.stats())", sourceLocation: sourceLocation)
        }

        /// create_params (5) and add with a fresh memfd as plane 0.
        func paramsWithMemfdPlane(stride: UInt32 = 400, modifier: UInt64 = 0) throws {
            c.send(ZwpLinuxDmabufV1CreateParams(paramsId: 5), on: 4)
            c.send(ZwpLinuxBufferParamsV1Add(planeIdx: 0, offset: 0, stride: stride, modifierHi: UInt32(modifier >> 32),
                                             modifierLo: UInt32(truncatingIfNeeded: modifier)),
                   on: 5, fds: [try Memfd.create(name: "not-a-dma-buf", size: 65536)])
        }

        deinit { gp.tearDown() }
    }

    @Test func theGuestOffersLinuxDmabufV4OnlyWhereItIsAskedToAndTheCompositorsOwnStaysHidden() throws {
        let offered = try Chain()
        #expect(offered.c.globals()["zwp_linux_dmabuf_v1"]?.name == Self.dmabufName)
        #expect(offered.c.globals()["zwp_linux_dmabuf_v1"]?.version == 4)
        let plain = try Chain(offer: false)
        #expect(plain.c.globals()["zwp_linux_dmabuf_v1"] == nil)
        #expect(plain.c.globals()["wl_shm"] != nil)
    }

    @Test func bindingItBindsTheCompositorsWlShmWhoseFormatsComeBackAsLinearAndImplicitDmabufFormats() throws {
        let t = try Chain(version: 3)
        let bind = try #require(t.compositor.messages(named: "wl_registry.bind").first)
        #expect(bind.args.contains { if case .untypedNewID(let iface, 1, 4) = $0 { return iface == Array("wl_shm".utf8) } else { return false } },
                "\(bind)")
        // The compositor announces its wl_shm formats on the new object.
        for f: UInt32 in [0, 1, 0x3631_4752] { t.compositor.send(WlShmFormat(format: f).encode(objectID: 4)) }
        #expect(t.h.pump { t.c.events(ZwpLinuxDmabufV1Modifier.self, on: 4).count == 6 })
        #expect(t.c.events(ZwpLinuxDmabufV1Format.self, on: 4).map(\.format) == [Self.argb, Self.xrgb, 0x3631_4752])
        let modifiers = t.c.events(ZwpLinuxDmabufV1Modifier.self, on: 4).map { UInt64($0.modifierHi) << 32 | UInt64($0.modifierLo) }
        #expect(modifiers == [0, 0x00FF_FFFF_FFFF_FFFF, 0, 0x00FF_FFFF_FFFF_FFFF, 0, 0x00FF_FFFF_FFFF_FFFF], "linear and implicit for each")
    }

    @Test func defaultFeedbackNamesTheDeviceAndAFormatTableAndReachesTheCompositorAsASync() throws {
        let t = try Chain()
        t.c.send(ZwpLinuxDmabufV1GetDefaultFeedback(id: 5), on: 4)
        #expect(t.h.pump { !t.c.events(ZwpLinuxDmabufFeedbackV1Done.self, on: 5).isEmpty })
        let table = try #require(t.c.events(ZwpLinuxDmabufFeedbackV1FormatTable.self, on: 5).first)
        #expect(table.size == 64)
        let fd = try #require(t.c.fds.last)
        let mapped = try SharedMapping(fd: fd, size: Int(table.size), writable: false)
        let bytes = Array(mapped.bytes(at: 0, count: Int(table.size)))
        #expect(bytes == DmabufFormatTable.bytes(formats: [Self.argb, Self.xrgb]))
        #expect(t.c.events(ZwpLinuxDmabufFeedbackV1MainDevice.self, on: 5).first?.device.count == 8)
        #expect(t.c.events(ZwpLinuxDmabufFeedbackV1TrancheFormats.self, on: 5).first?.indices == [0, 0, 1, 0, 2, 0, 3, 0])
        #expect(t.h.pump { !t.compositor.messages(named: "wl_display.sync").isEmpty })
        #expect(t.compositor.messages.allSatisfy { $0.name?.hasPrefix("zwp_linux") != true })
    }

    @Test func paramsBecomeAOnePagePoolOnTheCompositorsWlShm() throws {
        let t = try Chain()
        t.c.send(ZwpLinuxDmabufV1CreateParams(paramsId: 5), on: 4)
        #expect(t.h.pump { !t.compositor.messages(named: "wl_shm.create_pool").isEmpty })
        let pool = try #require(t.compositor.messages(named: "wl_shm.create_pool").first)
        #expect(pool.objectID == 4 && pool.fds.count == 1 && pool.args.last == .int(4096), "\(pool)")
        t.c.send(ZwpLinuxBufferParamsV1Destroy(), on: 5)
        #expect(t.h.pump { !t.compositor.messages(named: "wl_shm_pool.destroy").isEmpty })
    }

    @Test func aPlaneFdThatIsNotADmaBufFailsTheClientWithInvalidWlBuffer() throws {
        let t = try Chain()
        try t.paramsWithMemfdPlane()
        t.c.send(ZwpLinuxBufferParamsV1CreateImmed(bufferId: 6, width: 100, height: 50, format: Self.xrgb, flags: 0), on: 5)
        t.expectError(object: 5, code: .invalidWlBuffer, "not a dma-buf")
    }

    @Test func aStrideShorterThanARowFailsTheClientWithOutOfBounds() throws {
        let t = try Chain()
        try t.paramsWithMemfdPlane(stride: 396)
        t.c.send(ZwpLinuxBufferParamsV1CreateImmed(bufferId: 6, width: 100, height: 50, format: Self.xrgb, flags: 0), on: 5)
        t.expectError(object: 5, code: .outOfBounds, "stride 396")
    }

    @Test func aTiledModifierFailsTheClientWithInvalidFormat() throws {
        let t = try Chain()
        try t.paramsWithMemfdPlane(modifier: 0x0100_0000_0000_0001)
        t.c.send(ZwpLinuxBufferParamsV1CreateImmed(bufferId: 6, width: 100, height: 50, format: Self.xrgb, flags: 0), on: 5)
        t.expectError(object: 5, code: .invalidFormat, "modifier")
    }

    @Test func aPlaneIndexOfFourFailsTheClientWithPlaneIdx() throws {
        let t = try Chain()
        t.c.send(ZwpLinuxDmabufV1CreateParams(paramsId: 5), on: 4)
        t.c.send(ZwpLinuxBufferParamsV1Add(planeIdx: 4, offset: 0, stride: 400, modifierHi: 0, modifierLo: 0), on: 5,
                 fds: [try Memfd.create(name: "plane", size: 4096)])
        t.expectError(object: 5, code: .planeIdx, "plane index 4")
    }

    @Test func createIsAnsweredWithFailedAndTheClientCarriesOn() throws {
        let t = try Chain()
        try t.paramsWithMemfdPlane()
        t.c.send(ZwpLinuxBufferParamsV1Create(width: 100, height: 50, format: Self.xrgb, flags: 0), on: 5)
        // create still checks the planes: a memfd is refused like for create_immed.
        t.expectError(object: 5, code: .invalidWlBuffer, "not a dma-buf")
    }

    /// Descriptors of this process open on a memfd named `name`.
    static func memfds(named name: String) -> Int {
        let dir = "/proc/self/fd"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return -1 }
        return entries.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)"))?.hasPrefix("/memfd:\(name) ") == true }.count
    }

    @Test func theGuestHoldsEachPlanesFdUntilItsClientLeavesAndNoneAfter() throws {
        let t = try Chain()
        // A name no other test uses: tests of this process run in parallel.
        let probe = "dmabuf-plane-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        for i: UInt32 in 0..<20 {
            t.c.send(ZwpLinuxDmabufV1CreateParams(paramsId: 5 + i), on: 4)
            t.c.send(ZwpLinuxBufferParamsV1Add(planeIdx: 0, offset: 0, stride: 400, modifierHi: 0, modifierLo: 0), on: 5 + i,
                     fds: [try Memfd.create(name: probe, size: 4096)])
        }
        #expect(t.h.pump { t.compositor.messages(named: "wl_shm.create_pool").count == 20 })
        #expect(Self.memfds(named: probe) == 20, "the guest keeps each plane's fd while its params live")
        t.c.send(ZwpLinuxBufferParamsV1Destroy(), on: 5)
        #expect(t.h.pump { Self.memfds(named: probe) == 19 }, "destroying the params lets its plane go")
        t.c.close()
        #expect(t.h.pump { t.h.stats()["clients"] == 0 })
        #expect(t.h.pump { Self.memfds(named: probe) == 0 }, "\(Self.memfds(named: probe)) plane fds left after the client left")
    }
}
