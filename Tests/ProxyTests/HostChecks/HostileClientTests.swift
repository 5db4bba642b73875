import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// Bad input from a guest client, through a real guest proxy and the host
/// to the scripted compositor, all in this process (these ran against
/// weston and sway processes before): the offender gets a wl_display.error
/// and is cut off, the compositor never sees the bad message, every other
/// client carries on, and the link stays up.
@Suite("Hostile clients through both proxies") struct HostileClientTests {
    final class Chain {
        let h: InProcessHost
        let gp: InProcessGuest
        let bystander: WaylandTestClient
        /// The bystander's next new id (2 and 3 are taken by its start).
        private var bystanderID: UInt32 = 4

        init(policy: GuestPolicy = GuestPolicy(), sourceLocation: SourceLocation = #_sourceLocation) throws {
            h = try InProcessHost(policy: policy)
            gp = try InProcessGuest(host: h)
            bystander = try gp.connectClient()
            bystander.send(1, 1, [.newID(2)])
            bystander.send(1, 0, [.newID(3)])
            try #require(h.pump { self.bystander.messages.contains { $0.objectID == 3 } }, sourceLocation: sourceLocation)
            #expect(bystander.globals()["wl_compositor"] != nil, sourceLocation: sourceLocation)
        }

        /// A new client that has its registry (2) and, if asked, wl_shm bound as 4.
        func client(bindShm: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws -> WaylandTestClient {
            let c = try gp.connectClient()
            c.send(1, 1, [.newID(2)])
            c.send(1, 0, [.newID(3)])
            try #require(h.pump { c.messages.contains { $0.objectID == 3 } }, sourceLocation: sourceLocation)
            if bindShm {
                let shm = try #require(c.globals()["wl_shm"], sourceLocation: sourceLocation)
                c.send(2, 0, [.uint(shm.name), .untypedNewID(interface: Array("wl_shm".utf8), version: 1, id: 4)])
            }
            return c
        }

        /// The compositor connection of the `n`th client (bystander first).
        func compositor(_ n: Int) -> CompositorClient { h.compositor.clients[n] }

        /// `c` gets a wl_display.error containing `fragment` and is closed;
        /// its compositor connection never saw a message named `never`; the
        /// bystander is still served; both proxies keep the link.
        func expectRejected(_ c: WaylandTestClient, _ fragment: String, object: UInt32? = nil, code: UInt32? = nil,
                            never: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(h.pump { c.sawEOF }, "the bad client was not disconnected", sourceLocation: sourceLocation)
            let error = c.displayError
            #expect(error?.message.contains(fragment) == true, "error: \(error.map { "\($0)" } ?? "none")", sourceLocation: sourceLocation)
            if let object { #expect(error?.object == object, sourceLocation: sourceLocation) }
            if let code { #expect(error?.code == code, sourceLocation: sourceLocation) }
            if let never {
                #expect(!h.compositor.clients.contains { !$0.messages(named: never).isEmpty }, "the compositor got \(never)",
                        sourceLocation: sourceLocation)
            }
            let id = bystanderID
            bystanderID += 1
            bystander.send(1, 0, [.newID(id)])
            #expect(h.pump { self.bystander.messages.contains { $0.objectID == id } }, "the other client stopped getting events",
                    sourceLocation: sourceLocation)
            #expect(!bystander.sawEOF, sourceLocation: sourceLocation)
            #expect(h.stats()["links"] == 1 && h.stats()["link_errors"] == 0, "\(h.stats())", sourceLocation: sourceLocation)
            #expect(gp.guest.statsJSON().contains("\"links\": 1,"), sourceLocation: sourceLocation)
            #expect(h.pump { self.h.stats()["clients"] == 1 }, "\(h.stats())", sourceLocation: sourceLocation)
        }

        deinit { gp.tearDown() }
    }

    static let invalidMethod = DisplayErrorCode.invalidMethod.rawValue

    // MARK: Refused by the guest proxy

    @Test func messageSizeBelowTheHeader() throws {
        let t = try Chain()
        let c = try t.gp.connectClient()
        c.send([1, 0, 0, 0, 1, 0, 4, 0])
        t.expectRejected(c, "message size 4 below the 8-byte header", object: 1, code: Self.invalidMethod)
        #expect(t.h.compositor.clients.count == 2 && t.compositor(1).messages.isEmpty)
    }

    @Test func messageSizeNotAMultipleOfFour() throws {
        let t = try Chain()
        let c = try t.gp.connectClient()
        c.send([1, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0])
        t.expectRejected(c, "message size 10 not a multiple of 4", object: 1, code: Self.invalidMethod)
    }

    @Test func unknownObject() throws {
        let t = try Chain()
        let c = try t.gp.connectClient()
        c.send(77, 0, [])
        t.expectRejected(c, "invalid object 77", object: 1, code: DisplayErrorCode.invalidObject.rawValue)
    }

    @Test func unknownOpcode() throws {
        let t = try Chain()
        let c = try t.gp.connectClient()
        c.send(1, 9, [])
        t.expectRejected(c, "invalid request opcode 9 on wl_display@1", object: 1, code: Self.invalidMethod)
    }

    @Test func createPoolWithoutItsFd() throws {
        let t = try Chain()
        let c = try t.client(bindShm: true)
        c.send(4, 0, [.newID(5), .fd, .int(4096)])
        t.expectRejected(c, "wl_shm.create_pool: file descriptor missing", object: 4, code: Self.invalidMethod, never: "wl_shm.create_pool")
    }

    @Test func bufferOutsideItsPool() throws {
        let t = try Chain()
        let c = try t.client(bindShm: true)
        c.send(4, 0, [.newID(5), .fd, .int(4096)], fds: [try Memfd.create(name: "small-pool", size: 4096)])
        c.send(5, 0, [.newID(6), .int(0), .int(100), .int(100), .int(400), .uint(1)])
        t.expectRejected(c, "lies outside the pool of 4096 bytes", object: 5, code: ShmErrorCode.invalidStride.rawValue,
                         never: "wl_shm_pool.create_buffer")
    }

    @Test func poolFdSmallerThanThePool() throws {
        let t = try Chain()
        let c = try t.client(bindShm: true)
        c.send(4, 0, [.newID(5), .fd, .int(1 << 20)], fds: [try Memfd.create(name: "tiny", size: 100)])
        t.expectRejected(c, "pool fd holds 100 bytes, pool wants 1048576", object: 4, code: ShmErrorCode.invalidFD.rawValue,
                         never: "wl_shm.create_pool")
    }

    // MARK: Refused by the host (the guest passes them on)

    @Test(arguments: [(UInt32(6), "weston_screenshooter"), (7, "zwp_linux_dmabuf_v1")])
    func bindOfAHiddenGlobal(_ name: UInt32, _ interface: String) throws {
        let t = try Chain()
        let c = try t.client()
        #expect(c.globals()[interface] == nil, "the guest sees \(interface)")
        c.send(2, 0, [.uint(name), .untypedNewID(interface: Array("wl_compositor".utf8), version: 1, id: 4)])
        t.expectRejected(c, "invalid global \(name)", object: 2, code: DisplayErrorCode.invalidObject.rawValue, never: "wl_registry.bind")
        #expect(t.h.stats()["client_errors"] == 1)
    }

    // MARK: Virtual keyboard keymaps

    enum BadKeymap: String, Sendable, CaseIterable {
        case huge = "a 64 MiB file"
        case empty = "an empty file"
        case pipe = "a pipe"
        case sizeBeyondFile = "a size argument past the end of the file"
    }

    /// Binds the seat and the virtual keyboard manager and makes keyboard 6.
    func virtualKeyboard(_ t: Chain) throws -> WaylandTestClient {
        let c = try t.client()
        let globals = c.globals()
        let seat = try #require(globals["wl_seat"]), manager = try #require(globals["zwp_virtual_keyboard_manager_v1"])
        c.send(2, 0, [.uint(seat.name), .untypedNewID(interface: Array("wl_seat".utf8), version: 7, id: 4)])
        c.send(2, 0, [.uint(manager.name), .untypedNewID(interface: Array("zwp_virtual_keyboard_manager_v1".utf8), version: 1, id: 5)])
        c.send(5, 0, [.object(4), .newID(6)])
        return c
    }

    @Test(arguments: BadKeymap.allCases)
    func badVirtualKeyboardKeymap(_ bad: BadKeymap) throws {
        let t = try Chain(policy: allowVirtualKeyboard)
        let c = try virtualKeyboard(t)
        let fd: OwnedFD
        var size: UInt32 = 4096
        switch bad {
        case .huge:
            fd = try Memfd.create(name: "huge-keymap", size: 64 << 20)
            size = 64 << 20
        case .empty:
            fd = try Memfd.create(name: "empty-keymap", size: 0)
            size = 0
        case .pipe:
            let ends = try Pipe.make()
            _ = Array("xkb_keymap {".utf8).withUnsafeBytes { write(ends.write.rawValue, $0.baseAddress, $0.count) }
            ends.write.close()
            fd = ends.read
        case .sizeBeyondFile:
            // 4 KiB of file that a compositor would be told is 1 MiB: it
            // would map and read past the end of the file (sway died of SIGBUS).
            fd = try Memfd.create(name: "short-keymap", size: 4096)
            size = 1 << 20
        }
        c.send(6, 0, [.uint(1), .fd, .uint(size)], fds: [fd])
        let expected = switch bad {
        case .sizeBeyondFile: "keymap of 1048576 bytes on a 4096-byte resource"   // the host's check
        case .huge: "file of 67108864 bytes is outside 1...16777216"                // the guest's
        case .empty, .pipe: "file of 0 bytes is outside 1...16777216"
        }
        t.expectRejected(c, expected, never: "zwp_virtual_keyboard_v1.keymap")
        if bad == .sizeBeyondFile {
            // The host refused it: the keyboard reached the compositor, its keymap did not.
            #expect(t.h.compositor.clients[1].messages(named: "zwp_virtual_keyboard_manager_v1.create_virtual_keyboard").count == 1)
        }
    }

    /// The host's refusal and its channel close meet the client's hang-up at
    /// the guest in either order; neither may take the link down (a second
    /// close from the guest was once a frame for an unknown channel).
    @Test func clientsThatHangUpRightAfterTheHostRefusedTheirMessage() throws {
        let t = try Chain(policy: allowVirtualKeyboard)
        for i in 0..<20 {
            let c = try virtualKeyboard(t)
            c.send(6, 0, [.uint(1), .fd, .uint(1 << 20)], fds: [try Memfd.create(name: "short-keymap", size: 4096)])
            if i % 2 == 1 {
                // Wait for the error to be on its way first.
                _ = t.h.pump(timeout: 5) { c.displayError != nil || c.sawEOF }
            }
            c.close()
        }
        #expect(t.h.pump { t.h.stats()["client_errors"] == 20 && t.h.stats()["clients"] == 1 }, "\(t.h.stats())")
        #expect(t.h.stats()["link_errors"] == 0 && t.h.stats()["links"] == 1)
        #expect(t.gp.guest.statsJSON().contains("\"link_errors\": 0,") && t.gp.guest.statsJSON().contains("\"links\": 1,"))
        #expect(!t.h.compositor.clients.contains { !$0.messages(named: "zwp_virtual_keyboard_v1.keymap").isEmpty })
        // The same link still serves clients.
        let after = try t.client()
        #expect(after.globals()["wl_seat"] != nil)
        #expect(t.h.pump { t.gp.guest.statsJSON().contains("\"clients\": 2,") })
    }
}
