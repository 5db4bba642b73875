@testable import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// What the host's guest policy (`--allow`, `--clipboard`, `--name`,
/// `--no-title-label`) does to a guest's requests, with a raw guest that
/// tries anyway.
@Suite("Host checks: guest policy") struct HostPolicyChecksTests {
    /// Every global some capability grants, announced by the compositor.
    static let capabilityGlobals: [ScriptedCompositor.Global] = Capability.allCases
        .flatMap { $0.globals.sorted() }
        .enumerated().map { ScriptedCompositor.Global(name: 100 + UInt32($0.offset), interface: $0.element, version: 1) }

    static func shown(_ g: RawGuestLink, channel: UInt32 = 1) -> Set<String> {
        Set(g.events(channel).compactMap { $0.global(registry: 2)?.interface })
    }

    // MARK: Capabilities

    @Test func globalsGrantingACapabilityAreHiddenUnlessAllowed() throws {
        let h = try InProcessHost(globals: ScriptedCompositor.standardGlobals + Self.capabilityGlobals)
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let ch = try h.openClient(1, on: g)
        let capabilityNames = Set(Self.capabilityGlobals.map(\.interface))
        #expect(Self.shown(g).isDisjoint(with: capabilityNames), "shown without --allow: \(Self.shown(g).intersection(capabilityNames))")
        #expect(Self.shown(g).contains("wl_seat"))
        // Binding one anyway: refused like any global never shown.
        g.wayland(1, [bind(5, "zwp_virtual_keyboard_manager_v1", 1, id: 3)])
        try h.expectRefused(g, ch, object: 2, code: DisplayErrorCode.invalidObject.rawValue,
                            "invalid global 5 (zwp_virtual_keyboard_manager_v1)", forwarded: ["wl_display.get_registry"])
    }

    @Test func allowedCapabilitiesAreShownWhenTheProxiesCanCarryThem() throws {
        let h = try InProcessHost(globals: Self.capabilityGlobals, policy: GuestPolicy(allowed: Set(Capability.allCases)))
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let ch = try h.openClient(1, on: g)
        let carried = Set(Self.capabilityGlobals.map(\.interface).filter {
            FdTranslationTable.standard.mayExpose(global: $0, tables: .builtin)
        })
        #expect(carried.isSuperset(of: ["zwp_virtual_keyboard_manager_v1", "zwlr_data_control_manager_v1"]))
        #expect(Self.shown(g) == carried)
        let keyboard = try #require(Self.capabilityGlobals.first { $0.interface == "zwp_virtual_keyboard_manager_v1" })
        g.wayland(1, [bind(keyboard.name, keyboard.interface, 1, id: 3)])
        #expect(h.pump { !ch.compositor.messages(named: "wl_registry.bind").isEmpty })
        #expect(g.channelClose(1) == nil)
    }

    @Test func onlyTheAllowedCapabilityIsShown() throws {
        let h = try InProcessHost(globals: Self.capabilityGlobals, policy: GuestPolicy(allowed: [.dataControl]))
        defer { h.tearDown() }
        let g = try h.connectGuest()
        _ = try h.openClient(1, on: g)
        #expect(Self.shown(g) == ["zwlr_data_control_manager_v1", "ext_data_control_manager_v1"])
    }

    // MARK: Clipboard direction

    /// Channel 1 with wl_data_device_manager (3), wl_seat (4), data device
    /// 5 and data source 6 offering text/plain; with a primary selection
    /// manager (7), device 8 and source 9 when asked.
    final class Clipboard {
        let h: InProcessHost
        let g: RawGuestLink
        let ch: InProcessHost.Channel
        var forwarded = ["wl_display.get_registry", "wl_registry.bind", "wl_registry.bind", "wl_data_device_manager.get_data_device",
                         "wl_data_device_manager.create_data_source", "wl_data_source.offer"]

        init(_ direction: ClipboardDirection, sourceLocation: SourceLocation = #_sourceLocation) throws {
            h = try InProcessHost(globals: ScriptedCompositor.standardGlobals
                                      + [.init(name: 9, interface: "zwp_primary_selection_device_manager_v1", version: 1)],
                                  policy: GuestPolicy(clipboard: direction))
            g = try h.connectGuest(sourceLocation: sourceLocation)
            ch = try h.openClient(1, on: g, sourceLocation: sourceLocation)
            g.wayland(1, [bind(4, "wl_data_device_manager", 3, id: 3), bind(3, "wl_seat", 1, id: 4), wl(3, 1, [.newID(5), .object(4)]),
                          wl(3, 0, [.newID(6)]), wl(6, 0, [.text("text/plain")]),
                          bind(9, "zwp_primary_selection_device_manager_v1", 1, id: 7), wl(7, 1, [.newID(8), .object(4)]),
                          wl(7, 0, [.newID(9)]), wl(9, 0, [.text("text/plain")])])
            forwarded += ["wl_registry.bind", "zwp_primary_selection_device_manager_v1.get_device",
                          "zwp_primary_selection_device_manager_v1.create_source", "zwp_primary_selection_source_v1.offer"]
            try #require(h.pump { self.ch.compositor.messages.count == self.forwarded.count }, sourceLocation: sourceLocation)
        }

        /// The guest sets both selections, then syncs (callback 10).
        func setSelections() -> [String] {
            g.wayland(1, [wl(5, 1, [.object(6), .uint(1)]), wl(8, 0, [.object(9), .uint(1)]), wl(1, 0, [.newID(10)])])
            _ = h.pump { self.g.events(1).contains { $0.objectID == 10 } }
            return ch.compositor.messages.map { $0.name ?? "?" }
        }

        /// The compositor offers text/plain as the clipboard selection
        /// (offer 0xFF000001) and the primary selection (0xFF000002);
        /// returns the selection events the guest got: (clipboard, primary).
        func hostSelections() -> (UInt32?, UInt32?) {
            ch.compositor.send(5, 0, [.newID(0xFF00_0001)])
            ch.compositor.send(0xFF00_0001, 0, [.text("text/plain")])
            ch.compositor.send(5, 5, [.object(0xFF00_0001)])
            ch.compositor.send(8, 0, [.newID(0xFF00_0002)])
            ch.compositor.send(0xFF00_0002, 0, [.text("text/plain")])
            ch.compositor.send(8, 1, [.object(0xFF00_0002)])
            _ = h.pump { self.g.events(1).contains { $0.objectID == 8 && $0.opcode == 1 } }
            func last(_ object: UInt32, _ opcode: UInt16) -> UInt32? {
                g.events(1).last { $0.objectID == object && $0.opcode == opcode }.map {
                    $0.bytes[8..<12].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                }
            }
            return (last(5, 5), last(8, 1))
        }

        deinit { h.tearDown() }
    }

    @Test(arguments: [ClipboardDirection.toGuest, .none])
    func setSelectionNeverReachesTheHost(_ direction: ClipboardDirection) throws {
        let c = try Clipboard(direction)
        #expect(c.setSelections() == c.forwarded + ["wl_display.sync"])
        #expect(c.g.channelClose(1) == nil && !c.g.isClosed, "a dropped set_selection is not an error")
    }

    @Test(arguments: [ClipboardDirection.both, .fromGuest])
    func setSelectionReachesTheHostWhenAllowed(_ direction: ClipboardDirection) throws {
        let c = try Clipboard(direction)
        #expect(c.setSelections() == c.forwarded + ["wl_data_device.set_selection", "zwp_primary_selection_device_v1.set_selection", "wl_display.sync"])
    }

    @Test(arguments: [ClipboardDirection.fromGuest, .none])
    func hostSelectionsReachTheGuestAsNoSelection(_ direction: ClipboardDirection) throws {
        let c = try Clipboard(direction)
        let (clipboard, primary) = c.hostSelections()
        #expect(clipboard == 0 && primary == 0)
    }

    @Test(arguments: [ClipboardDirection.both, .toGuest])
    func hostSelectionsReachTheGuestWhenAllowed(_ direction: ClipboardDirection) throws {
        let c = try Clipboard(direction)
        let (clipboard, primary) = c.hostSelections()
        #expect(clipboard == 0xFF00_0001 && primary == 0xFF00_0002)
        c.g.send(.resourceOpen(channel: 1, resource: 30, kind: .pipe, size: 0))
        c.g.wayland(1, [wl(0xFF00_0001, 1, [.text("text/plain"), .fd])], resources: [30])
        #expect(c.h.pump { !c.ch.compositor.messages(named: "wl_data_offer.receive").isEmpty })
    }

    @Test(arguments: [(ClipboardDirection.fromGuest, UInt32(0xFF00_0001), UInt16(1)), (.none, 0xFF00_0001, 1),
                      (.fromGuest, 0xFF00_0002, 0), (.none, 0xFF00_0002, 0)])
    func receiveOfAWithheldSelection(_ direction: ClipboardDirection, _ offer: UInt32, _ receive: UInt16) throws {
        let c = try Clipboard(direction)
        _ = c.hostSelections()
        c.g.send(.resourceOpen(channel: 1, resource: 30, kind: .pipe, size: 0))
        c.g.wayland(1, [wl(offer, receive, [.text("text/plain"), .fd])], resources: [30])
        try c.h.expectRefused(c.g, c.ch, object: offer, code: DisplayErrorCode.invalidMethod.rawValue,
                              "the host's clipboard is not shared with this guest (--clipboard \(direction.rawValue))", forwarded: c.forwarded)
    }

    @Test func dragAndDropIsNotGated() throws {
        let c = try Clipboard(.none)
        c.g.wayland(1, [bind(1, "wl_compositor", 4, id: 10), wl(10, 0, [.newID(11)])])
        c.ch.compositor.send(5, 0, [.newID(0xFF00_0003)])
        c.ch.compositor.send(0xFF00_0003, 0, [.text("text/plain")])
        c.ch.compositor.send(5, 1, [.uint(7), .object(11), .fixed(0), .fixed(0), .object(0xFF00_0003)])  // enter
        #expect(c.h.pump { c.g.events(1).contains { $0.objectID == 5 && $0.opcode == 1 } })
        c.g.send(.resourceOpen(channel: 1, resource: 30, kind: .pipe, size: 0))
        c.g.wayland(1, [wl(0xFF00_0003, 1, [.text("text/plain"), .fd])], resources: [30])
        #expect(c.h.pump { !c.ch.compositor.messages(named: "wl_data_offer.receive").isEmpty })
        #expect(c.g.channelClose(1) == nil)
    }

    // MARK: Window titles

    /// Makes toplevel 7 on channel 1 of `g` and sets its title; returns the
    /// title the compositor got.
    static func title(_ h: InProcessHost, _ g: RawGuestLink, _ ch: InProcessHost.Channel, _ title: [UInt8]) throws -> [UInt8] {
        g.wayland(1, [bind(1, "wl_compositor", 4, id: 3), wl(3, 0, [.newID(4)]), bind(8, "xdg_wm_base", 5, id: 5),
                      wl(5, 2, [.newID(6), .object(4)]), wl(6, 1, [.newID(7)]), wl(7, 2, [.string(title)])])
        try #require(h.pump { !ch.compositor.messages(named: "xdg_toplevel.set_title").isEmpty })
        guard case .string(let got?)? = ch.compositor.messages(named: "xdg_toplevel.set_title").first?.args.first else { return [] }
        return got
    }

    @Test func titlesAreLabelledWithTheGuestsName() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let first = try h.connectGuest()
        let second = try h.connectGuest()
        let a = try h.openClient(1, on: first), b = try h.openClient(1, on: second)
        // A guest cannot pass a window off as another's, nor put escapes in the title.
        let raw = Array("[host] Terminal \u{1B}[31mred\u{7}".utf8)
        #expect(String(decoding: try Self.title(h, first, a, raw), as: UTF8.self) == "[guest] [host] Terminal [31mred")
        #expect(String(decoding: try Self.title(h, second, b, Array("editor".utf8)), as: UTF8.self) == "[guest-2] editor")
    }

    @Test func longTitlesAreCut() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let ch = try h.openClient(1, on: g)
        let got = try Self.title(h, g, ch, Array(repeating: UInt8(ascii: "x"), count: 3000))
        #expect(got == Array("[guest] ".utf8) + Array(repeating: UInt8(ascii: "x"), count: TitleLabel.maxTitleBytes))
    }

    @Test func titlesAreLeftAloneWithoutLabels() throws {
        let h = try InProcessHost(policy: GuestPolicy(labelTitles: false))
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let ch = try h.openClient(1, on: g)
        #expect(try Self.title(h, g, ch, Array("plain".utf8)) == Array("plain".utf8))
    }
}
