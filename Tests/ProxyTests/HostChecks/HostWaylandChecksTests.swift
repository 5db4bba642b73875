import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// Every check the host makes on the Wayland messages in a guest's data
/// frames (MessageParser, ObjectMap, HostHandler with GlobalFilter and
/// ShmPolicy, WaylandConnection's fd translation), each broken on purpose by
/// a raw guest: the client gets a wl_display.error through the link, the
/// channel closes with code 1, the compositor never sees the message, and
/// the link stays up. The guest proxy refuses most of these first, so only
/// a raw guest reaches them.
@Suite("Host checks: Wayland messages from the guest") struct HostWaylandChecksTests {
    /// A host, a raw guest and channel 1 with registry 2 and, if asked,
    /// wl_shm bound as 3 and a 4096-byte pool 4 on resource 5.
    final class Setup {
        let h: InProcessHost
        let g: RawGuestLink
        let ch: InProcessHost.Channel
        /// What the compositor got so far.
        var forwarded = ["wl_display.get_registry"]

        init(shm: Bool = false, pool: Bool = false, policy: GuestPolicy = GuestPolicy(),
             sourceLocation: SourceLocation = #_sourceLocation) throws {
            h = try InProcessHost(policy: policy)
            g = try h.connectGuest(sourceLocation: sourceLocation)
            ch = try h.openClient(1, on: g, bindShm: shm || pool, sourceLocation: sourceLocation)
            if shm || pool { forwarded.append("wl_registry.bind") }
            if pool {
                g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
                g.request(1, 3, 0, [.newID(4), .fd, .int(4096)], resources: [5])
                forwarded.append("wl_shm.create_pool")
                try #require(h.pump { self.ch.compositor.messages.count == self.forwarded.count }, sourceLocation: sourceLocation)
            }
        }

        func send(_ messages: [[UInt8]], resources: [UInt32] = []) { g.wayland(1, messages, resources: resources) }

        func expectRefused(object: UInt32, code: UInt32, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            try h.expectRefused(g, ch, object: object, code: code, fragment, forwarded: forwarded, sourceLocation: sourceLocation)
        }

        /// Sends `messages` and expects them all at the compositor, the channel open.
        func expectForwarded(_ messages: [[UInt8]], names: [String], resources: [UInt32] = [],
                             sourceLocation: SourceLocation = #_sourceLocation) {
            send(messages, resources: resources)
            forwarded += names
            #expect(h.pump { self.ch.compositor.messages.count >= self.forwarded.count }, sourceLocation: sourceLocation)
            #expect(ch.compositor.messages.map { $0.name ?? "?" } == forwarded, sourceLocation: sourceLocation)
            #expect(g.channelClose(1) == nil && !g.isClosed, sourceLocation: sourceLocation)
        }

        deinit { h.tearDown() }
    }

    static let invalidObject = DisplayErrorCode.invalidObject.rawValue
    static let invalidMethod = DisplayErrorCode.invalidMethod.rawValue
    static let implementation = DisplayErrorCode.implementation.rawValue
    static let invalidStride = ShmErrorCode.invalidStride.rawValue

    // MARK: MessageParser: headers, objects, opcodes, versions, arguments

    @Test(arguments: [(4, "message size 4 below the 8-byte header"), (10, "message size 10 not a multiple of 4"),
                      (4100, "message size 4100 above 4096 bytes")])
    func badMessageSize(_ size: Int, _ fragment: String) throws {
        let s = try Setup()
        s.send([[1, 0, 0, 0, 0, 0, UInt8(size & 0xFF), UInt8(size >> 8)] + Array(repeating: 0, count: 8)])
        try s.expectRefused(object: 1, code: Self.invalidMethod, fragment)
    }

    @Test func messageToAnUnknownObject() throws {
        let s = try Setup()
        s.send([wl(77, 0, [])])
        try s.expectRefused(object: 1, code: Self.invalidObject, "invalid object 77")
    }

    @Test func unknownOpcode() throws {
        let s = try Setup()
        s.send([wl(1, 9, [])])
        try s.expectRefused(object: 1, code: Self.invalidMethod, "invalid request opcode 9 on wl_display@1")
    }

    @Test func requestBeyondTheObjectsVersion() throws {
        let s = try Setup()
        s.expectForwarded([bind(3, "wl_seat", 1, id: 3)], names: ["wl_registry.bind"])
        s.send([wl(3, 3, [])])  // wl_seat.release, since version 5
        try s.expectRefused(object: 3, code: Self.invalidMethod, "wl_seat.release needs version 5, object has 1")
    }

    @Test func argumentsCutShort() throws {
        let s = try Setup()
        s.send([[1, 0, 0, 0, 1, 0, 8, 0]])  // wl_display.get_registry without its new_id
        try s.expectRefused(object: 1, code: Self.invalidMethod, "wl_display.get_registry: message ends inside")
    }

    @Test func stringWithoutItsTerminator() throws {
        let s = try Setup()
        // wl_registry.bind(1, "wl_shm" with its NUL replaced, 1, 3)
        var m = bind(2, "wl_shm", 1, id: 3)
        m[16 + 6] = UInt8(ascii: "!")
        s.send([m])
        try s.expectRefused(object: 2, code: Self.invalidMethod, "wl_registry.bind: bad string")
    }

    @Test func dataFrameEndingInsideAMessage() throws {
        let s = try Setup()
        s.send([Array(wl(1, 0, [.newID(3)]).prefix(8))])
        try s.expectRefused(object: 1, code: Self.implementation, "data frame ends inside a message")
    }

    // MARK: ObjectMap: new ids

    @Test(arguments: [(UInt32(2), "new id 2 is already in use"), (0, "null argument 0 of sync where the protocol forbids it"),
                      (0xFF00_0005, "new id 4278190085 is outside the client range")])
    func newIDRefused(_ id: UInt32, _ fragment: String) throws {
        let s = try Setup()
        s.send([wl(1, 0, [.newID(id)])])  // wl_display.sync
        try s.expectRefused(object: 1, code: Self.invalidMethod, "wl_display.sync: \(fragment)")
    }

    @Test func bindToAnIDInUse() throws {
        let s = try Setup()
        s.send([bind(1, "wl_compositor", 4, id: 2)])
        try s.expectRefused(object: 2, code: Self.invalidMethod, "wl_registry.bind: new id 2 is already in use")
    }

    // MARK: Resources standing for fds

    @Test func fdMissing() throws {
        let s = try Setup(shm: true)
        s.send([wl(3, 0, [.newID(4), .fd, .int(4096)])])
        try s.expectRefused(object: 3, code: Self.invalidMethod, "wl_shm.create_pool: file descriptor missing")
    }

    @Test func moreResourcesThanFds() throws {
        let s = try Setup()
        s.g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
        s.send([wl(1, 0, [.newID(3)])], resources: [5])
        // The sync went on before the frame's end showed the stray resource.
        s.forwarded.append("wl_display.sync")
        try s.expectRefused(object: 1, code: Self.implementation, "data frame carries 1 resources for 0 fds")
    }

    @Test func poolOnAMissingResource() throws {
        let s = try Setup(shm: true)
        s.send([wl(3, 0, [.newID(4), .fd, .int(4096)])], resources: [9])
        try s.expectRefused(object: 3, code: Self.invalidStride, "pool of 4096 bytes on a 0-byte resource")
    }

    @Test func poolOnAPipe() throws {
        let s = try Setup(shm: true)
        s.g.send(.resourceOpen(channel: 1, resource: 5, kind: .pipe, size: 0))
        s.send([wl(3, 0, [.newID(4), .fd, .int(4096)])], resources: [5])
        try s.expectRefused(object: 3, code: Self.invalidStride, "pool of 4096 bytes on a 0-byte resource")
    }

    @Test func poolOnAReadOnlyFile() throws {
        let s = try Setup(shm: true)
        s.g.send(.resourceOpen(channel: 1, resource: 5, kind: .readOnlyFile, size: 4096))
        s.send([wl(3, 0, [.newID(4), .fd, .int(4096)])], resources: [5])
        try s.expectRefused(object: 1, code: Self.implementation,
                            "wl_shm.create_pool refers to resource 5: resource 5 is missing or not a shmPool")
    }

    /// Binds the virtual keyboard manager (3) and the seat (4) and makes keyboard 5.
    func virtualKeyboard(_ s: Setup) {
        s.expectForwarded([bind(5, "zwp_virtual_keyboard_manager_v1", 1, id: 3), bind(3, "wl_seat", 1, id: 4), wl(3, 0, [.object(4), .newID(5)])],
                          names: ["wl_registry.bind", "wl_registry.bind", "zwp_virtual_keyboard_manager_v1.create_virtual_keyboard"])
    }

    @Test func keymapOnAPool() throws {
        let s = try Setup(policy: allowVirtualKeyboard)
        virtualKeyboard(s)
        s.g.send(.resourceOpen(channel: 1, resource: 9, kind: .shmPool, size: 4096))
        s.send([wl(5, 0, [.uint(1), .fd, .uint(4096)])], resources: [9])
        try s.expectRefused(object: 1, code: Self.implementation,
                            "zwp_virtual_keyboard_v1.keymap refers to resource 9: resource 9 is missing or not a readOnlyFile")
    }

    @Test func keymapSizeBeyondItsFile() throws {
        let s = try Setup(policy: allowVirtualKeyboard)
        virtualKeyboard(s)
        s.g.send(.resourceOpen(channel: 1, resource: 9, kind: .readOnlyFile, size: 4096))
        s.send([wl(5, 0, [.uint(1), .fd, .uint(1 << 20)])], resources: [9])
        try s.expectRefused(object: 5, code: VirtualKeyboardErrorCode.noKeymap.rawValue, "keymap of 1048576 bytes on a 4096-byte resource")
    }

    @Test func keymapOnAMissingResource() throws {
        let s = try Setup(policy: allowVirtualKeyboard)
        virtualKeyboard(s)
        s.send([wl(5, 0, [.uint(1), .fd, .uint(16)])], resources: [9])
        try s.expectRefused(object: 5, code: VirtualKeyboardErrorCode.noKeymap.rawValue, "keymap of 16 bytes on a 0-byte resource")
    }

    @Test func keymapFileUsedTwice() throws {
        let s = try Setup(policy: allowVirtualKeyboard)
        virtualKeyboard(s)
        s.g.send(.resourceOpen(channel: 1, resource: 9, kind: .readOnlyFile, size: 16))
        s.g.send(.resourceUpdate(channel: 1, resource: 9, ranges: [UpdateRange(offset: 0, length: 16)], bytes: Array(repeating: 0x20, count: 16)))
        s.expectForwarded([wl(5, 0, [.uint(1), .fd, .uint(16)])], names: ["zwp_virtual_keyboard_v1.keymap"], resources: [9])
        s.send([wl(5, 0, [.uint(1), .fd, .uint(16)])], resources: [9])
        try s.expectRefused(object: 5, code: VirtualKeyboardErrorCode.noKeymap.rawValue, "keymap of 16 bytes on a 0-byte resource")
    }

    /// A clipboard offer from the compositor on channel 1: data device 5 on
    /// seat 4, offer 0xFF000001 of text/plain.
    func offer(_ s: Setup) throws -> UInt32 {
        s.expectForwarded([bind(4, "wl_data_device_manager", 3, id: 3), bind(3, "wl_seat", 1, id: 4), wl(3, 1, [.newID(5), .object(4)])],
                          names: ["wl_registry.bind", "wl_registry.bind", "wl_data_device_manager.get_data_device"])
        let offer: UInt32 = 0xFF00_0001
        s.ch.compositor.send(5, 0, [.newID(offer)])
        s.ch.compositor.send(offer, 0, [.text("text/plain")])
        s.ch.compositor.send(5, 5, [.object(offer)])
        try #require(s.h.pump { s.g.events(1).contains { $0.objectID == 5 && $0.opcode == 5 } })
        return offer
    }

    @Test func receiveIntoAPool() throws {
        let s = try Setup()
        let o = try offer(s)
        s.g.send(.resourceOpen(channel: 1, resource: 7, kind: .shmPool, size: 4096))
        s.send([wl(o, 1, [.text("text/plain"), .fd])], resources: [7])
        try s.expectRefused(object: 1, code: Self.implementation, "wl_data_offer.receive refers to resource 7: resource 7 is missing or not a pipe")
    }

    @Test func pipeUsedTwice() throws {
        let s = try Setup()
        let o = try offer(s)
        s.g.send(.resourceOpen(channel: 1, resource: 7, kind: .pipe, size: 0))
        s.expectForwarded([wl(o, 1, [.text("text/plain"), .fd])], names: ["wl_data_offer.receive"], resources: [7])
        // The compositor's source writes; the bytes come back as pipe data.
        let fd = try #require(s.ch.compositor.messages.last?.fds.first)
        _ = Array("data".utf8).withUnsafeBytes { write(fd.rawValue, $0.baseAddress, $0.count) }
        #expect(s.h.pump { s.g.frames.contains { $0 == .pipeData(channel: 1, resource: 7, bytes: Array("data".utf8)) } })
        s.send([wl(o, 1, [.text("text/plain"), .fd])], resources: [7])
        try s.expectRefused(object: 1, code: Self.implementation, "wl_data_offer.receive refers to resource 7: pipe resource 7 used twice")
    }

    // MARK: GlobalFilter: binds

    @Test(arguments: [(UInt32(6), "weston_screenshooter"), (7, "zwp_linux_dmabuf_v1"), (99, "wl_compositor")])
    func bindOfAGlobalNotShown(_ name: UInt32, _ interface: String) throws {
        let s = try Setup()
        s.send([bind(name, interface, 1, id: 3)])
        try s.expectRefused(object: 2, code: Self.invalidObject, "invalid global \(name) (\(interface))")
    }

    @Test func bindAsAnotherInterface() throws {
        let s = try Setup()
        s.send([bind(1, "wl_shm", 1, id: 3)])
        try s.expectRefused(object: 2, code: Self.invalidObject, "bind of global 1 as wl_shm v1; it is wl_compositor v5")
    }

    @Test(arguments: [(UInt32(1), "wl_compositor", UInt32(6), UInt32(5)), (8, "xdg_wm_base", 6, 5), (1, "wl_compositor", 0, 5)])
    func bindAboveTheShownVersion(_ name: UInt32, _ interface: String, _ version: UInt32, _ shown: UInt32) throws {
        let s = try Setup()
        // xdg_wm_base is announced at 7 and shown capped to what the tables know.
        if interface == "xdg_wm_base" {
            #expect(s.g.events(1).compactMap { $0.global(registry: 2) }.first { $0.name == 8 }?.version == 5)
        }
        s.send([bind(name, interface, version, id: 3)])
        try s.expectRefused(object: 2, code: Self.invalidObject, "bind of global \(name) as \(interface) v\(version); it is \(interface) v\(shown)")
    }

    @Test func bindOnARegistryThatDidNotAnnounceIt() throws {
        let s = try Setup()
        s.h.compositor.autoRespond = false
        s.expectForwarded([wl(1, 1, [.newID(3)])], names: ["wl_display.get_registry"])
        s.send([wl(3, 0, [.uint(1), .untypedNewID(interface: Array("wl_compositor".utf8), version: 1, id: 4)])])
        s.h.compositor.autoRespond = true
        try s.expectRefused(object: 3, code: Self.invalidObject, "invalid global 1 (wl_compositor)")
    }

    @Test func bindOfAShownGlobalGoesThrough() throws {
        let s = try Setup()
        s.expectForwarded([bind(1, "wl_compositor", 5, id: 3), bind(8, "xdg_wm_base", 5, id: 4)], names: ["wl_registry.bind", "wl_registry.bind"])
    }

    // MARK: ShmPolicy: pools and buffers

    @Test(arguments: [Int32(0), -1])
    func poolSizeNotPositive(_ size: Int32) throws {
        let s = try Setup(shm: true)
        s.g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
        s.send([wl(3, 0, [.newID(4), .fd, .int(size)])], resources: [5])
        try s.expectRefused(object: 3, code: Self.invalidStride, "invalid pool size \(size)")
    }

    @Test func poolLargerThanItsResource() throws {
        let s = try Setup(shm: true)
        s.g.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
        s.send([wl(3, 0, [.newID(4), .fd, .int(4097)])], resources: [5])
        try s.expectRefused(object: 3, code: Self.invalidStride, "pool of 4097 bytes on a 4096-byte resource")
    }

    @Test func poolShrinking() throws {
        let s = try Setup(pool: true)
        s.send([wl(4, 2, [.int(2048)])])
        try s.expectRefused(object: 4, code: Self.invalidStride, "pool cannot shrink")
    }

    @Test func poolResizedBeyondItsResource() throws {
        let s = try Setup(pool: true)
        s.send([wl(4, 2, [.int(8192)])])
        try s.expectRefused(object: 4, code: Self.invalidStride, "pool resized to 8192 bytes beyond its 4096-byte resource")
    }

    @Test func poolResizedAfterItsResourceGrew() throws {
        let s = try Setup(pool: true)
        s.g.send(.resourceExtend(channel: 1, resource: 5, size: 8192))
        s.expectForwarded([wl(4, 2, [.int(8192)]), wl(4, 0, [.newID(5), .int(4096), .int(32), .int(32), .int(128), .uint(1)])],
                          names: ["wl_shm_pool.resize", "wl_shm_pool.create_buffer"])
        #expect(try s.ch.compositor.messages(named: "wl_shm.create_pool")[0].fds[0].fileSize() == 8192)
    }

    @Test(arguments: [
        // offset, width, height, stride, format
        [Int32(0), 100, 100, 400, 1],   // 40000 bytes in a 4096-byte pool
        [-4, 1, 1, 4, 1],               // negative offset
        [4092, 2, 1, 8, 1],             // last row runs past the end
        [0, 0, 1, 4, 1],                // no width
        [0, 1, 0, 4, 1],                // no height
        [0, 1, 1, 0, 1],                // no stride
    ])
    func bufferOutsideThePool(_ b: [Int32]) throws {
        let s = try Setup(pool: true)
        s.send([wl(4, 0, [.newID(5), .int(b[0]), .int(b[1]), .int(b[2]), .int(b[3]), .uint(UInt32(b[4]))])])
        try s.expectRefused(object: 4, code: Self.invalidStride, "buffer outside the pool (offset \(b[0]), \(b[1])x\(b[2]), stride \(b[3]), pool 4096)")
    }

    @Test(arguments: [(UInt32(1), Int32(4)), (0x3432_4258, 4), (0x3631_4752, 2)])  // xrgb8888, XB24, RG16
    func strideBelowARow(_ format: UInt32, _ bpp: Int32) throws {
        let s = try Setup(pool: true)
        // The compositor advertises the format (argb8888 and xrgb8888 need not be).
        s.ch.compositor.send(3, 0, [.uint(format)])
        #expect(s.h.pump { s.g.events(1).contains { $0.objectID == 3 } })
        s.send([wl(4, 0, [.newID(5), .int(0), .int(16), .int(4), .int(16 * bpp - 1), .uint(format)])])
        try s.expectRefused(object: 4, code: Self.invalidStride, "stride \(16 * bpp - 1) is less than width 16 x \(bpp) bytes")
    }

    @Test func bufferFillingThePoolExactly() throws {
        let s = try Setup(pool: true)
        s.expectForwarded([wl(4, 0, [.newID(5), .int(0), .int(32), .int(32), .int(128), .uint(1)]),
                           wl(4, 0, [.newID(6), .int(4092), .int(1), .int(1), .int(4), .uint(0)])],
                          names: ["wl_shm_pool.create_buffer", "wl_shm_pool.create_buffer"])
    }

    @Test func poolsAreCheckedAfterDestroyAndReuse() throws {
        // A destroyed pool's id, reused for a smaller pool, is held to the new size.
        let s = try Setup(pool: true)
        s.g.send(.resourceOpen(channel: 1, resource: 6, kind: .shmPool, size: 1024))
        s.expectForwarded([wl(4, 1, []), wl(1, 0, [.newID(5)])], names: ["wl_shm_pool.destroy", "wl_display.sync"])
        s.ch.compositor.send(1, 1, [.uint(4)])  // wl_display.delete_id(4)
        #expect(s.h.pump { s.g.events(1).contains { $0.objectID == 1 && $0.opcode == 1 && $0.bytes.suffix(4) == [4, 0, 0, 0] } })
        s.expectForwarded([wl(3, 0, [.newID(4), .fd, .int(1024)])], names: ["wl_shm.create_pool"], resources: [6])
        s.send([wl(4, 0, [.newID(6), .int(0), .int(32), .int(32), .int(128), .uint(1)])])
        try s.expectRefused(object: 4, code: Self.invalidStride, "buffer outside the pool (offset 0, 32x32, stride 128, pool 1024)")
    }
}
