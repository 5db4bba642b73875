import Foundation
import Glibc
import Harness
import SystemTestSupport
import Testing

/// Real weston behind the real porthole host and guest binaries.
@Suite("Proxies in front of a real weston", .serialized, .tags(.processes))
struct ProxyWestonTests {
    static let required = ["wl_compositor", "wl_shm", "xdg_wm_base", "wl_output", "wl_data_device_manager",
                           "wp_viewporter", "wp_presentation"]

    @Test("wayland-info through the guest lists the core globals at the versions weston offers")
    func waylandInfoMatchesDirect() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        let direct = parseWaylandInfoGlobals(try chain.weston.waylandInfo())
        let proxied = parseWaylandInfoGlobals(try Weston.waylandInfo(display: chain.guest.socketName!, runtime: chain.runtime))
        for name in Self.required {
            let d = try #require(direct[name], "weston itself lacks \(name)")
            #expect(proxied[name] == d, "\(name): direct v\(d), proxied \(proxied[name].map { "v\($0)" } ?? "missing")")
        }
        // Globals the proxies cannot carry are hidden, never forwarded blind.
        #expect(proxied["zwp_linux_explicit_synchronization_v1"] == nil)
        #expect(proxied["weston_debug_v1"] == nil)
    }

    @Test("wayland-info over a TCP link with the guest listening")
    func tcpLinkGuestListening() throws {
        let chain = try ProxiedWeston(transport: .tcp, listener: .guest)
        defer { chain.stop() }
        let proxied = parseWaylandInfoGlobals(try Weston.waylandInfo(display: chain.guest.socketName!, runtime: chain.runtime))
        for name in Self.required { #expect(proxied[name] != nil, "\(name) missing over TCP") }
    }

    @Test("weston demo clients through the proxies are visible on the host screen",
          arguments: [("weston-simple-shm", 250, 250), ("weston-simple-damage", 0, 0), ("weston-flower", 0, 0), ("weston-subsurfaces", 0, 0)])
    func clientIsVisible(client: String, width: Int, height: Int) throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        let app = try chain.startClient(client)
        defer { app.terminate() }
        let shot = try chain.weston.waitForScreenshot("\(client) window on the host", timeout: 20) { shot in
            shot.regions(differingFrom: Weston.background, minPixels: 2000).contains { r in
                width == 0 || ((width - 10)...(width + 10)).contains(r.width) && ((height - 10)...(height + 10)).contains(r.height)
            }
        }
        let region = try #require(shot.regions(differingFrom: Weston.background, minPixels: 2000).first)
        #expect(shot.distinctColors(in: region) > 1, "\(client): window is drawn, not a flat box")
        #expect(app.isRunning, "\(client) died: \(app.diagnostics())")
        let stats = try chain.guest.waitForStats("commits and pixels counted", timeout: 5) {
            $0["commits", default: 0] > 0 && $0["pixel_bytes_sent", default: 0] > 0
        }
        #expect(stats["client_errors", default: -1] == 0, "\(chain.diagnostics())")
        #expect(try chain.host.stats()["client_errors", default: -1] == 0, "\(chain.diagnostics())")
        if client == "weston-simple-shm" {
            // Its whole 250 KB frames are long enough for the host's receive threads.
            let host = try chain.host.waitForStats("pixels taken in on a receive thread", timeout: 5) {
                $0["update_bytes_on_receive_threads", default: 0] > 0
            }
            #expect(host["client_errors", default: -1] == 0)
        }
    }

    @Test("eight clients at once, then the host proxy is back to its open-fd count")
    func eightClientsAndNoLeaks() throws {
        let setup = try WestonWithHost()
        defer { setup.stop() }
        let host = setup.host
        let baseline = try restingFDCount(host)

        for round in 0..<2 {
            let guest = try setup.startGuest(socketName: "guest-\(round)")
            try guest.waitForSocket()
            var clients: [ManagedProcess] = []
            for _ in 0..<8 { clients.append(try guest.startClient("weston-simple-shm")) }
            let busy = try guest.waitForStats("8 clients committing", timeout: 20) { $0["clients"] == 8 && $0["commits", default: 0] >= 80 }
            #expect(busy["client_errors"] == 0)
            let hostStats = try host.waitForStats("8 compositor connections", timeout: 10) { $0["clients"] == 8 }
            #expect(hostStats["clients"] == 8)
            for c in clients { #expect(c.isRunning, "\(c.diagnostics())") }
            for c in clients { c.terminate() }
            _ = try host.waitForStats("clients gone on the host", timeout: 10) { $0["clients"] == 0 }
            _ = guest.terminate()
            let back = waitUntil(timeout: 10) { (try? host.openFDCount()) == baseline }
            #expect(back, "host fds: baseline \(baseline), now \((try? host.openFDCount()) ?? -1)\n\(host.diagnostics())")
            #expect(host.isRunning)
        }
    }

    @Test("guest -- CMD runs the command on the guest socket and exits with its status")
    func runCommandMode() throws {
        let setup = try WestonWithHost()
        defer { setup.stop() }
        let (runtime, host) = (setup.runtime, setup.host)
        let out = runtime.file("info.txt")
        let guest = try setup.startGuest(socketName: "cmd-guest", command: ["sh", "-c", "wayland-info > \(out); exit 7"])
        defer { guest.terminate() }
        let exit = guest.waitForExit(timeout: 20)
        #expect(exit == .exited(7), "\(guest.diagnostics())")
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        #expect(parseWaylandInfoGlobals(text)["wl_compositor"] != nil, "wayland-info output: \(text.prefix(300))")
        #expect(host.isRunning)
    }

    @Test("guest -- CMD: SIGTERM to porthole reaches the command, whose status porthole returns")
    func runCommandSignalForwarding() throws {
        let setup = try WestonWithHost()
        defer { setup.stop() }
        let ready = setup.runtime.file("trap-ready")
        let guest = try setup.startGuest(socketName: "sig-guest", command: [
            "sh", "-c", "trap 'exit 42' TERM; touch \(ready); while :; do sleep 0.1; done",
        ])
        defer { guest.terminate() }
        #expect(waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: ready) }, "\(guest.diagnostics())")
        guest.process.signal(SIGTERM)
        let exit = guest.waitForExit(timeout: 10)
        #expect(exit == .exited(42), "\(guest.diagnostics())")
    }

    @Test("a small damage costs a small number of pixel bytes")
    func smallDamageIsCheap() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        let client = try PatternClient(socketPath: chain.guest.socketPath!, width: 256, height: 256)
        defer { client.close() }
        _ = try client.drawFrame(0, damage: .full)
        try client.waitForFrameCallback()
        _ = try client.drawFrame(1, damage: .full)
        try client.waitForFrameCallback()
        // Two small frames bring both buffers up to date with the full frames.
        for n in 2..<4 {
            _ = try client.drawFrame(n, damage: .rect(x: 100, y: 100, width: 8, height: 8))
            try client.waitForFrameCallback()
        }
        try client.roundtrip()
        sleepSeconds(1.2) // let the stats file catch up
        let before = try chain.guest.waitForStats("stats after the warm-up frames", timeout: 5) { $0["commits", default: 0] >= 5 }
        let frames = 10
        for n in 4..<(4 + frames) {
            _ = try client.drawFrame(n, damage: .rect(x: 100, y: 100, width: 8, height: 8))
            try client.waitForFrameCallback()
        }
        try client.roundtrip()
        let after = try chain.guest.waitForStats("stats after the small frames", timeout: 5) {
            $0["commits", default: 0] >= before["commits", default: 0] + frames
        }
        let perFrame = Double(after["pixel_bytes_sent", default: 0] - before["pixel_bytes_sent", default: 0]) / Double(frames)
        let fullBuffer = 256 * 256 * 4
        // 8x8 pixels = 256 bytes changed per frame; with two buffers a frame
        // also carries the other buffer's previous change.
        #expect(perFrame > 0)
        #expect(perFrame <= 2048, "pixel bytes per 8x8 frame: \(perFrame) (a full buffer is \(fullBuffer))")
        print("small damage: \(perFrame) pixel bytes per frame for an 8x8 change; full buffer \(fullBuffer) bytes")
    }
}
