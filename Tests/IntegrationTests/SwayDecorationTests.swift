import Foundation
import SystemTestSupport
import Testing

/// GTK 3 apps ask sway for server-side decorations with
/// org_kde_kwin_server_decoration; through Porthole they must get the same
/// answer and look the same as when they talk to sway directly.
@Suite("Decorations of GTK 3 apps through the proxies with sway", .serialized, .tags(.processes))
struct SwayDecorationTests {
    /// One app's window on sway: its decoration mode, its size and a screenshot.
    struct Shown {
        var mode: Int?
        var window: Sway.Window
        var image: Image
    }

    /// Runs `command` on `side` until its window maps, then takes what sway shows.
    private func show(_ chain: ProxiedSway, _ side: ProxiedSway.Side, _ command: [String], name: String) throws -> Shown {
        let pid = side == .guest ? chain.host.pid : nil
        let app = side == .guest
            ? try chain.startGuestClient(command[0], Array(command.dropFirst()), environment: ["WAYLAND_DEBUG": "1"])
            : try chain.startHostClient(command[0], Array(command.dropFirst()), environment: ["WAYLAND_DEBUG": "1"])
        defer { app.terminate() }
        let window = try chain.sway.waitForWindow(pid: pid ?? app.pid)
        // Let the app draw its first frames and settle.
        Thread.sleep(forTimeInterval: 1.5)
        let settled = try chain.sway.windows().first { $0.pid == (pid ?? app.pid) } ?? window
        let file = chain.runtime.file("\(name)-\(side.rawValue).png")
        try chain.shell(.host, "grim -g '\(settled.x),\(settled.y) \(settled.width)x\(settled.height)' \(file)")
        let image = try Image.load(path: file, logDirectory: chain.runtime.path)
        // The last mode event the app got for its decoration object.
        let modes = app.stderr.split(separator: "\n").filter { $0.contains("org_kde_kwin_server_decoration@") && $0.contains(".mode(") }
        let mode = modes.last.flatMap { line -> Int? in
            guard let open = line.lastIndex(of: "("), let close = line.lastIndex(of: ")") else { return nil }
            return Int(line[line.index(after: open)..<close])
        }
        return Shown(mode: mode, window: settled, image: image)
    }

    /// Share of pixels whose colour differs by more than `tolerance` in any channel.
    private func differing(_ a: Image, _ b: Image, tolerance: Int = 24) -> Double {
        guard a.width == b.width, a.height == b.height, a.width * a.height > 0 else { return 1 }
        var n = 0
        a.forEachPixel { x, y, p in
            let q = b.pixel(x: x, y: y)
            if abs(Int(p.r) - Int(q.r)) > tolerance || abs(Int(p.g) - Int(q.g)) > tolerance || abs(Int(p.b) - Int(q.b)) > tolerance { n += 1 }
        }
        return Double(n) / Double(a.width * a.height)
    }

    /// zenity's dialog asks for server-side decorations (mode 2); gtk3-demo
    /// has a header bar and asks to draw its own (mode 1). Either way, the
    /// answer and the look through Porthole must be the direct ones.
    @Test("zenity and gtk3-demo are decorated through the guest as directly (sway's title bar for zenity, gtk3-demo's own header bar)",
          arguments: [(["zenity", "--info", "--text", "Porthole draws no decorations of its own"], 2),
                      (["gtk3-demo"], 1)])
    func gtk3AppsAreDecoratedAsDirectly(_ command: [String], expectedMode: Int) throws {
        // Titles unlabelled, so that sway's title bars can match too.
        let chain = try ProxiedSway(hostArguments: ["--no-title-label"])
        defer { chain.stop() }
        let direct = try show(chain, .host, command, name: command[0])
        let proxied = try show(chain, .guest, command, name: command[0])
        let diff = differing(direct.image, proxied.image)
        print("\(command[0]): decoration mode direct \(direct.mode.map(String.init) ?? "none"), through Porthole \(proxied.mode.map(String.init) ?? "none"); window \(direct.window.width)x\(direct.window.height) vs \(proxied.window.width)x\(proxied.window.height); \(String(format: "%.2f", diff * 100))% of pixels differ")
        #expect(direct.mode == expectedMode, "the decoration mode \(command[0]) gets from sway directly")
        #expect(proxied.mode == direct.mode, "\(chain.diagnostics())")
        #expect(proxied.window.width == direct.window.width && proxied.window.height == direct.window.height)
        #expect(direct.image.distinctColors() > 8, "the screenshot shows a drawn window, not a blank area")
        #expect(diff < 0.02, "screenshots: \(chain.runtime.path)")
    }
}
