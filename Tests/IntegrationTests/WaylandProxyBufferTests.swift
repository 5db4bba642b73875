import Foundation
import Glibc
import Harness
import SystemTestSupport
import Testing

/// The Wayland proxy as an application of the buffer service, with a real
/// weston and a real client in shared-region mode: a host program sees a
/// guest window's pixels through `porthole buffers`, without the compositor.
@Suite("wayland-proxy buffers of a real window", .serialized, .tags(.processes))
struct WaylandProxyBufferTests {
    @Test func aDumpedWaylandProxyBufferOfWestonSimpleShmShowsWhatWestonShows() throws {
        let setup = try WestonWithHost { runtime in
            RegionModeTests.regionArguments(runtime).host + ["--buffers-socket", runtime.file("consumers.sock")]
        }
        defer { setup.stop() }
        let runtime = setup.runtime
        let guest = try setup.startGuest(arguments: RegionModeTests.regionArguments(runtime).guest)
        defer { guest.terminate() }
        try guest.waitForSocket()
        let app = try guest.startClient("weston-simple-shm")
        defer {
            app.signal(SIGCONT)
            app.terminate()
        }
        try guest.waitForStats("frames through the region", timeout: 15) { $0["commits", default: 0] >= 10 }
        // Hold the client still: the window then keeps its last frame.
        app.signal(SIGSTOP)
        sleepSeconds(0.5)
        let shot = try setup.weston.screenshot()
        let window = try #require(shot.regions(differingFrom: Weston.background, minPixels: 2000).first { $0.width == 250 && $0.height == 250 },
                                  "no 250x250 window in the screenshot")
        let env = ["XDG_RUNTIME_DIR": runtime.path]
        let consumers = runtime.file("consumers.sock")
        let list = try runCommand(try portholeBinary(), ["buffers", "list", "--socket", consumers, "--app", "wayland-proxy"],
                                  environment: env, logDirectory: runtime.path).stdoutText
        // The client is named by its /proc comm, 15 bytes at most.
        let ids = list.split(separator: "\n").filter { $0.contains("width=250") && $0.contains("height=250") && $0.contains("client=weston-simple-s") }
            .compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
        #expect(ids.count == 2, "weston-simple-shm draws into two buffers:\n\(list)")
        // One of the two is the frame on screen, pixel for pixel, where the
        // compositor shows the buffer's own colour: weston-simple-shm draws a
        // cross with X = 0 (to catch compositors that take XRGB's X for
        // alpha), which this weston blends, so those pixels are left out.
        // Their X comes from the buffer itself, read as a consumer.
        let consumer = try BufferConsumerClient(socketPath: consumers, application: "wayland-proxy")
        defer { consumer.close() }
        try consumer.roundtrip()
        let crop = shot.cropped(to: window)
        var matches = 0
        for id in ids {
            let png = runtime.file("wayland-proxy-\(id).png")
            try runCommand(try portholeBinary(), ["buffers", "dump", "--socket", consumers, "--app", "wayland-proxy", "\(id)", png],
                           environment: env, logDirectory: runtime.path)
            let dumped = try Image.load(path: png, logDirectory: runtime.path)
            let raw = try #require(consumer.buffers[UInt32(id)]).bytes
            var compared = 0, equal = 0
            dumped.forEachPixel { x, y, p in
                guard raw[(y * 250 + x) * 4 + 3] == 0xFF else { return }
                compared += 1
                let q = crop.pixel(x: x, y: y)
                if (p.r, p.g, p.b) == (q.r, q.g, q.b) { equal += 1 }
            }
            #expect(compared > 250 * 250 * 3 / 4, "buffer \(id): only \(compared) opaque pixels")
            if equal == compared { matches += 1 }
        }
        #expect(matches == 1, "no dumped buffer (or both) shows what weston shows")
        let hostStats = try setup.host.stats(), guestStats = try guest.stats()
        #expect(hostStats["copied_bytes"] == 0 && guestStats["pixel_bytes_sent"] == 0, "region mode: \(hostStats) \(guestStats)")
    }

    /// Each commit of a region-mode window is an `updated` event of its
    /// wayland-proxy buffer: `porthole buffers watch` follows a real
    /// weston-simple-shm window frame by frame.
    @Test func portholeBuffersWatchSeesEveryCommitOfWestonSimpleShm() throws {
        let setup = try WestonWithHost { runtime in
            RegionModeTests.regionArguments(runtime).host + ["--buffers-socket", runtime.file("consumers.sock")]
        }
        defer { setup.stop() }
        let runtime = setup.runtime
        let guest = try setup.startGuest(arguments: RegionModeTests.regionArguments(runtime).guest)
        defer { guest.terminate() }
        try guest.waitForSocket()
        let consumers = runtime.file("consumers.sock")
        let frames = 20
        let watch = try ManagedProcess(try portholeBinary(), ["buffers", "watch", "--socket", consumers, "--app", "wayland-proxy", "--frames", "\(frames)"],
                                       environment: ["XDG_RUNTIME_DIR": runtime.path], logDirectory: runtime.path)
        defer { watch.terminate() }
        try setup.host.waitForStats("the consumer") { $0["buffer_consumers"] == 1 }
        let app = try guest.startClient("weston-simple-shm")
        defer { app.terminate() }
        #expect(watch.waitForExit(timeout: 20)?.succeeded == true, "\(watch.diagnostics())")
        #expect(watch.stdout.contains("app=wayland-proxy"), "\(watch.stdout)")
        #expect(watch.stdout.contains("watched \(frames) updates"), "\(watch.stdout)")
        // The stats file is written every half second.
        let hostStats = try setup.host.waitForStats("the commits counted") { $0["buffer_presents", default: 0] >= frames }
        #expect(hostStats["consumer_evictions"] == 0, "\(hostStats)")
    }
}
