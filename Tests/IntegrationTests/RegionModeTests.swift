import Foundation
import Glibc
import Harness
import SystemTestSupport
import Testing

/// Shared-region mode against a real headless weston: both proxies map one
/// file, client pixels are written into it by the guest proxy and read from
/// it by weston; nothing but protocol crosses the link.
@Suite("Shared-region mode with a real weston", .serialized, .tags(.processes))
struct RegionModeTests {
    /// Host and guest arguments for a region file in `runtime`.
    static func regionArguments(_ runtime: RuntimeDir, size: String = "16M") -> (host: [String], guest: [String]) {
        let file = runtime.file("region")
        return (["--region", file, "--region-size", size], ["--region", file])
    }

    @Test("weston demo clients show on the host with no pixel bytes on the link",
          arguments: [("weston-simple-shm", 250, 250), ("weston-simple-damage", 0, 0)])
    func clientIsVisible(client: String, width: Int, height: Int) throws {
        let setup = try WestonWithHost { Self.regionArguments($0).host }
        defer { setup.stop() }
        let (weston, host) = (setup.weston, setup.host)
        let guest = try setup.startGuest(arguments: Self.regionArguments(setup.runtime).guest)
        defer { guest.terminate() }
        try guest.waitForSocket()
        let app = try guest.startClient(client)
        defer { app.terminate() }

        let shot = try weston.waitForScreenshot("\(client) window on the host", timeout: 20) { shot in
            shot.regions(differingFrom: Weston.background, minPixels: 2000).contains { r in
                width == 0 || ((width - 10)...(width + 10)).contains(r.width) && ((height - 10)...(height + 10)).contains(r.height)
            }
        }
        let window = try #require(shot.regions(differingFrom: Weston.background, minPixels: 2000).first)
        #expect(shot.distinctColors(in: window) > 1, "\(client): window is drawn, not a flat box")
        let first = try guest.waitForStats("commits through the region", timeout: 10) { $0["commits", default: 0] >= 10 }
        // Frames keep coming, and still no pixel crosses the link.
        let later = try guest.waitForStats("more commits", timeout: 10) { $0["commits", default: 0] >= first["commits", default: 0] + 10 }
        #expect(later["pixel_bytes_sent"] == 0, "\(later)")
        #expect(later["region_links"] == 1, "\(later)")
        #expect(later["region_pools", default: 0] >= 1, "\(later)")
        #expect(later["fallback_pools"] == 0, "\(later)")
        #expect(later["copied_bytes", default: 0] > 0, "the guest copies changed pixels into the region")
        #expect(later["client_errors"] == 0, "\(host.diagnostics())")
        let hostStats = try host.stats()
        #expect(hostStats["registered_buffers", default: 0] >= 1, "\(hostStats)")
        #expect(hostStats["copied_bytes"] == 0, "the host copies nothing in region mode: \(hostStats)")
        #expect(hostStats["client_errors"] == 0, "\(host.diagnostics())")
        #expect(app.isRunning, "\(client) died: \(app.diagnostics())")
    }

    @Test("a region too small for a pool: that pool is copied over the link and still shows")
    func fullRegionFallsBack() throws {
        // 1 MiB minus the header page: weston-simple-shm makes a 250 KB pool per
        // buffer, two per client; four fit, the third client's do not.
        let setup = try WestonWithHost { Self.regionArguments($0, size: "1M").host }
        defer { setup.stop() }
        let weston = setup.weston
        let guest = try setup.startGuest(arguments: Self.regionArguments(setup.runtime).guest)
        defer { guest.terminate() }
        try guest.waitForSocket()
        let a = try guest.startClient("weston-simple-shm")
        defer { a.terminate() }
        _ = try guest.waitForStats("first pool in the region", timeout: 15) { $0["region_pools", default: 0] >= 1 }
        let b = try guest.startClient("weston-simple-shm")
        defer { b.terminate() }
        let c = try guest.startClient("weston-simple-shm")
        defer { c.terminate() }
        let stats = try guest.waitForStats("a pool copied over the link", timeout: 15) {
            $0["fallback_pools", default: 0] >= 1 && $0["pixel_bytes_sent", default: 0] > 0
        }
        #expect(stats["client_errors"] == 0, "\(guest.diagnostics())")
        #expect(a.isRunning && b.isRunning && c.isRunning)
        // With the region clients gone, the window left on screen is the copied one.
        a.terminate()
        b.terminate()
        let shot = try weston.waitForScreenshot("the copied client's window alone", timeout: 20) { shot in
            let windows = shot.regions(differingFrom: Weston.background, minPixels: 2000)
            return windows.count == 1 && (240...260).contains(windows[0].width) && (240...260).contains(windows[0].height)
        }
        let window = try #require(shot.regions(differingFrom: Weston.background, minPixels: 2000).first)
        #expect(shot.distinctColors(in: window) > 1)
        #expect(c.isRunning, "\(c.diagnostics())")
    }

    @Test("a guest mapping a region of another size is refused at the handshake, naming both sizes")
    func sizeMismatchIsRefused() throws {
        let setup = try WestonWithHost { ["--region", $0.file("host-region"), "--region-size", "4M"] }
        defer { setup.stop() }
        let host = setup.host
        // A different file of another size, as a guest with the wrong device would see.
        let other = setup.runtime.file("guest-region")
        let fd = open(other, O_RDWR | O_CREAT, 0o600)
        try #require(fd >= 0)
        ftruncate(fd, 2 << 20)
        close(fd)
        let guest = try setup.startGuest(arguments: ["--region", other, "--no-reconnect"])
        defer { guest.terminate() }
        let exit = try #require(guest.waitForExit(timeout: 15), "the guest should give up on a refused link")
        #expect(exit == .exited(1))
        let log = guest.diagnostics(tailLines: 80) + host.diagnostics(tailLines: 80)
        #expect(log.contains("4194304") && log.contains("2097152"), "both sizes named:\n\(log)")
        #expect(host.isRunning, "the host outlives a refused guest")
    }

    @Test("a guest with --region pci and no ivshmem device fails clearly, or falls back when asked")
    func missingPCIDevice() throws {
        let setup = try WestonWithHost()
        defer { setup.stop() }
        let strict = try setup.startGuest(socketName: "strict", arguments: ["--region", "pci"])
        let exit = try #require(strict.waitForExit(timeout: 10), "no ivshmem device here: the guest must exit")
        #expect(exit == .exited(1))
        #expect(strict.diagnostics(tailLines: 20).contains("no ivshmem device"), "\(strict.diagnostics())")

        let lenient = try setup.startGuest(socketName: "lenient", arguments: ["--region", "pci", "--region-fallback"])
        defer { lenient.terminate() }
        try lenient.waitForSocket()
        let app = try lenient.startClient("weston-simple-shm")
        defer { app.terminate() }
        let stats = try lenient.waitForStats("stream mode", timeout: 15) { $0["pixel_bytes_sent", default: 0] > 0 }
        #expect(stats["region_links"] == 0)
    }
}

/// porthole_shared_memory_v1: a client that draws straight into the region.
@Suite("Cooperative clients (porthole_shared_memory_v1)", .serialized, .tags(.processes))
struct CooperativeClientTests {
    @Test("what the client drew is what the compositor reads, and neither proxy copies a byte")
    func zeroCopyFrames() throws {
        let chain = try RecordedProxies(hostArguments: { RegionModeTests.regionArguments($0).host },
                                        guestArguments: { RegionModeTests.regionArguments($0).guest })
        defer { chain.stop() }
        let (compositor, host, guest) = (chain.compositor, chain.host, chain.guest)

        let width = 256, height = 160
        let client = try PatternClient(socketPath: guest.socketPath!, width: width, height: height, sharedMemory: true)
        defer { client.close() }
        var rng = SplitMix64(seed: 7)
        var expected: [[UInt8]] = []
        let frames = 30
        for n in 0..<frames {
            let damage: Damage = n % 3 == 0 ? .full
                : .rect(x: Int.random(in: 0..<width, using: &rng), y: Int.random(in: 0..<height, using: &rng), width: 40, height: 30)
            let before = compositor.commitCount
            expected.append(try client.drawFrame(n, damage: damage))
            try #require(compositor.waitForCommits(before + 1, timeout: .seconds(10)), "frame \(n) never arrived\n\(host.diagnostics())")
            try client.waitForFrameCallback()
        }
        let commits = compositor.commits.filter { $0.width == width && $0.height == height }
        #expect(commits.count >= frames)
        for (n, commit) in commits.suffix(frames).enumerated() {
            #expect(commit.bytes == expected[n], "frame \(n) differs")
        }
        #expect(compositor.postedErrors.isEmpty, "\(compositor.postedErrors)")
        // The stats file is rewritten every half second: wait until it has
        // every commit before reading the counters beside them.
        let g = try guest.waitForStats("every commit counted", timeout: 10) { $0["commits", default: 0] >= frames }
        let h = try host.stats()
        #expect(g["copied_bytes"] == 0 && g["pixel_bytes_sent"] == 0, "guest: \(g)")
        #expect(h["copied_bytes"] == 0, "host: \(h)")
        #expect(h["registered_buffers"] == 2, "the two allocations are registered: \(h)")
        #expect(g["client_errors"] == 0 && h["client_errors"] == 0)
        client.close()
        _ = try host.waitForStats("allocations freed with the client", timeout: 10) { $0["registered_buffers"] == 0 && $0["clients"] == 0 }
    }

    @Test("without a shared region the global is not offered")
    func noRegionNoGlobal() throws {
        let chain = try RecordedProxies()
        defer { chain.stop() }
        let guest = chain.guest
        do {
            _ = try PatternClient(socketPath: guest.socketPath!, width: 64, height: 64, sharedMemory: true)
            Issue.record("porthole_shared_memory_v1 offered without a region")
        } catch {
            guard case .missingGlobal("porthole_shared_memory_v1") = error else { Issue.record("\(error)"); return }
        }
    }
}
