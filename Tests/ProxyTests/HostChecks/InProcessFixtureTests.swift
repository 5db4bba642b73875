import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// The in-process fixture itself: a well-behaved raw guest gets through.
@Suite("In-process host fixture") struct InProcessFixtureTests {
    @Test func aRawGuestReachesTheScriptedCompositor() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let ch = try h.openClient(1, on: g, bindShm: true)
        let names = ch.compositor.messages.compactMap(\.name)
        #expect(names == ["wl_display.get_registry", "wl_registry.bind"], "\(names)")
        let shown = Set(g.events(1).compactMap { $0.global(registry: 2)?.interface })
        #expect(shown == ["wl_compositor", "wl_shm", "wl_seat", "wl_data_device_manager", "xdg_wm_base"])
        #expect(ch.compositor.parseErrors.isEmpty)
        #expect(h.stats()["links"] == 1 && h.stats()["clients"] == 1)
    }

    @Test func aClientGoesThroughARealGuestProxy() throws {
        let h = try InProcessHost()
        let gp = try InProcessGuest(host: h)
        defer { gp.tearDown() }
        let c = try gp.connectClient()
        c.send(1, 1, [.newID(2)])
        c.send(1, 0, [.newID(3)])
        #expect(h.pump { c.messages.contains { $0.objectID == 3 } })
        #expect(c.globals()["wl_shm"] != nil)
        #expect(c.globals()["weston_screenshooter"] == nil)
        #expect(h.compositor.clients.count == 1)
    }
}
