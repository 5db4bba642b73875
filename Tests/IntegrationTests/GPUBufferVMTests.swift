import Foundation
import Glibc
import SystemTestSupport
import Testing

/// A GPU-style client in a real QEMU guest (TCG): the guest kernel's vgem
/// makes DRM dumb buffers, the client exports them as dma-bufs (PRIME),
/// draws a known pattern and shows it through the guest proxy's
/// zwp_linux_dmabuf_v1, twice: top row first, and bottom row first with
/// the y_invert flag; the host's weston gets both as wl_shm and shows
/// exactly that pattern in both windows. Then a Mesa client,
/// weston-simple-dmabuf-egl, renders with GBM on kms_swrast and shows too. The host has no dma-buf of its own (no GPU, no
/// vgem, no udmabuf): this is the only place a real one exists.
/// After it, in the same boot, the same client shows on a weston of the
/// guest's own (GL on kms_swrast, which imports the dma-bufs itself): its
/// windows and the host's, through Porthole, are compared pixel for pixel.
/// Before its windows the client makes buffers that die early (destroyed
/// right after their commit, or between attach and commit: dma-buf and
/// wl_shm alike), which both compositors take without an error.
@Suite("dma-buf clients in a QEMU guest", .serialized, .tags(.processes))
struct GPUBufferVMTests {
    static let width = 240, height = 160
    /// Rounds of early-dying buffers the client makes first (--churn): each
    /// round two dma-bufs and two wl_shm buffers.
    static let churnRounds = 2
    /// Fully changed frames the client commits from one wl_shm buffer, then
    /// from one dma-buf, to measure what a frame costs on each path.
    static let measuredFrames = 30
    /// guest_weston_direct.sh's name beside the client (in the guest, in /tmp/vm-bin).
    static let directScript = "porthole-test-guest-weston-direct.sh"

    /// Builds Clients/dmabuf_pattern.c with the protocol code wayland-scanner
    /// makes, next to the porthole binary: scripts/vm shares that directory
    /// with the guest (as /tmp/vm-bin), so the guest runs what was built here.
    static func buildClient(in runtime: RuntimeDir) throws -> (hostPath: String, guestPath: String) {
        let dir = runtime.path
        let xmls = ["/usr/share/wayland-protocols/unstable/linux-dmabuf/linux-dmabuf-unstable-v1.xml",
                    "/usr/share/wayland-protocols/stable/xdg-shell/xdg-shell.xml"]
        var sources = [packageRoot + "/Tests/IntegrationTests/Clients/dmabuf_pattern.c"]
        for xml in xmls {
            let name = URL(fileURLWithPath: xml).deletingPathExtension().lastPathComponent
            try runCommand("wayland-scanner", ["client-header", xml, "\(dir)/\(name)-client-protocol.h"], logDirectory: dir)
            try runCommand("wayland-scanner", ["private-code", xml, "\(dir)/\(name)-protocol.c"], logDirectory: dir)
            sources.append("\(dir)/\(name)-protocol.c")
        }
        let name = "porthole-test-dmabuf-pattern"
        let binDir = URL(fileURLWithPath: try portholeBinary()).deletingLastPathComponent().path
        try runCommand("cc", ["-O2", "-Wall", "-Wextra", "-Werror", "-I", dir, "-o", "\(binDir)/\(name)"] + sources + ["-lwayland-client"],
                       logDirectory: dir, timeout: 120)
        // The direct run's script goes beside it: the guest sees /tmp as a
        // tmpfs of its own, so a checkout under the host's /tmp is not there.
        let script = "\(binDir)/\(directScript)"
        try? FileManager.default.removeItem(atPath: script)
        try FileManager.default.copyItem(atPath: packageRoot + "/Tests/IntegrationTests/Clients/guest_weston_direct.sh", toPath: script)
        return ("\(binDir)/\(name)", "/tmp/vm-bin/\(name)")
    }

    /// The client's windows: regions of exactly their size that are not the desktop.
    static func windows(in shot: Image) -> [Rect] {
        shot.regions(differingFrom: Weston.background, minPixels: 2000).filter { $0.width == width && $0.height == height }
    }

    /// Every pixel of the window is the client's pattern (dmabuf_pattern.c):
    /// a black frame and four quadrants; the number of pixels that differ.
    static func mismatches(in shot: Image, window w: Rect) -> Int {
        let colors: [UInt32] = [0xff0000, 0x00ff00, 0x0000ff, 0xffffff]
        var bad = 0
        for y in 0..<height {
            for x in 0..<width {
                let edge = x == 0 || y == 0 || x == width - 1 || y == height - 1
                let expected = edge ? 0 : colors[(y >= height / 2 ? 2 : 0) + (x >= width / 2 ? 1 : 0)]
                if !Color(rgb: expected).matches(shot.pixel(x: w.x + x, y: w.y + y)) { bad += 1 }
            }
        }
        return bad
    }

    /// The guest's own weston showed the same client (directly, no Porthole):
    /// a screenshot of it with both windows exactly the pattern, each pixel
    /// for pixel the same as a window of the host's through Porthole (paired
    /// in reading order; both windows hold the same pattern).
    /// weston-simple-dmabuf-egl is not compared so: its frame depends on the
    /// time it is drawn at (a moving square), so no two runs agree.
    func checkDirectRunMatches(vm: PortholeVM, throughPorthole shot: Image) throws {
        let out = "\(vm.stateDir)/out"
        var direct: Image?
        // guest_weston_direct.sh gives weston 240 s to start and the client
        // 120 s to show (a loaded host slows the TCG guest's GL start-up).
        _ = waitUntil(timeout: 380, poll: 0.5) {
            let pngs = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { $0.hasPrefix("direct-") && $0.hasSuffix(".png") }
            guard let newest = pngs.max(by: { Int($0.dropFirst(7).dropLast(4)) ?? 0 < Int($1.dropFirst(7).dropLast(4)) ?? 0 }),
                  let image = try? Image.load(path: "\(out)/\(newest)", logDirectory: out) else { return FileManager.default.fileExists(atPath: "\(out)/direct-done") }
            direct = image
            return Self.windows(in: image).count == 2 || FileManager.default.fileExists(atPath: "\(out)/direct-done")
        }
        #expect(FileManager.default.createFile(atPath: "\(out)/direct-seen", contents: nil))
        let log = {
            [("direct-steps", 20), ("direct-client.log", 20), ("direct-done", 20), ("direct-weston.log", 20), ("direct-ps", 80)].map { name, lines in
                let text = (try? String(contentsOfFile: "\(out)/\(name)", encoding: .utf8)) ?? "(none)"
                return "\(name): \(text.split(separator: "\n").suffix(lines).joined(separator: "\n"))"
            }.joined(separator: "\n")
        }
        let shotDirect = try #require(direct, "no screenshot from the guest's weston: \(log())")
        let steps = ((try? String(contentsOfFile: "\(out)/direct-steps", encoding: .utf8)) ?? "").split(separator: "\n").joined(separator: "; ")
        let samples = ((try? String(contentsOfFile: "\(out)/direct-ps", encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix("--- ") }.count
        print("the guest's own weston: \(steps) (\(samples) samples of its processes)")
        let directWindows = Self.windows(in: shotDirect).sorted { ($0.y, $0.x) < ($1.y, $1.x) }
        let hostWindows = Self.windows(in: shot).sorted { ($0.y, $0.x) < ($1.y, $1.x) }
        try #require(directWindows.count == 2, "the guest's weston: windows \(directWindows) in \(shotDirect.sourcePath ?? ""); \(log())")
        var differing = 0
        for (d, h) in zip(directWindows, hostWindows) {
            #expect(Self.mismatches(in: shotDirect, window: d) == 0, "directly: window \(d) differs from the pattern in \(shotDirect.sourcePath ?? "")")
            for y in 0..<Self.height {
                for x in 0..<Self.width where !Color(shotDirect.pixel(x: d.x + x, y: d.y + y)).matches(shot.pixel(x: h.x + x, y: h.y + y)) {
                    differing += 1
                }
            }
        }
        #expect(differing == 0, "\(differing) pixels differ between the guest's weston (\(shotDirect.sourcePath ?? "")) and the host's through Porthole (\(shot.sourcePath ?? ""))")
        _ = waitUntil(timeout: 30, poll: 0.2) { FileManager.default.fileExists(atPath: "\(out)/direct-done") }
        let clientLog = (try? String(contentsOfFile: "\(out)/direct-client.log", encoding: .utf8)) ?? ""
        let exit = (try? String(contentsOfFile: "\(out)/direct-done", encoding: .utf8)) ?? ""
        #expect(clientLog.contains("DMABUF-CHURN \(Self.churnRounds) rounds ok") && exit == "0\n", "the client on the guest's weston: \(log())")
        print("the same dma-buf client directly on the guest's weston (GL, kms_swrast) and through Porthole on the host's: windows \(directWindows) and \(hostWindows), \(differing) pixels differ")
    }

    /// The frames from one wl_shm buffer and then from one dma-buf, every
    /// pixel changed each frame: the guest proxy's stats before, between and
    /// after (snapshots the guest took) give commits and bytes per frame, the
    /// client's clock the frame rate (paced by the host weston's frame
    /// callbacks, so it says little of the copy's cost, which the bytes do).
    /// Each frame of either kind must be copied whole: nothing of a change is
    /// skipped.
    func checkFrameCost(vm: PortholeVM) throws {
        let out = "\(vm.stateDir)/out"
        // Seconds when calm. A guest command that failed ends the VM: stop
        // waiting then, and say where it ended or stalled (this is how a
        // snapshot copy that failed was found).
        let snapshot = "\(out)/stats-2.json"
        _ = waitUntil(timeout: 120, poll: 0.5) { FileManager.default.fileExists(atPath: snapshot) || !vm.process.isRunning }
        let measured = FileManager.default.fileExists(atPath: snapshot)
        let share = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).sorted()
        let shmFrames = (try? String(contentsOfFile: "\(out)/frames-shm", encoding: .utf8)) ?? "(none)"
        try #require(measured, "the guest's frame measurement did not end (\(vm.process.isRunning ? "not within 120 s" : "the VM ended first")); its share: \(share); frames-shm: \(shmFrames)\n\(vm.diagnostics())")
        let snaps = try (0...2).map { try readStatsFile("\(out)/stats-\($0).json") }
        let frameBytes = Self.width * Self.height * 4
        for (i, kind) in ["shm", "dmabuf"].enumerated() {
            let line = ((try? String(contentsOfFile: "\(out)/frames-\(kind)", encoding: .utf8)) ?? "").split(separator: "\n").first { $0.hasPrefix("DMABUF-FRAMES") }
            let seconds = try #require(line.flatMap { $0.split(separator: " ").dropFirst(5).first.flatMap { Double($0) } }, "\(kind): no DMABUF-FRAMES line")
            let delta = { (key: String) in snaps[i + 1][key, default: 0] - snaps[i][key, default: 0] }
            // Each run also shows its two windows first: 2 more buffers' worth.
            let (commits, copied, sent) = (delta("commits"), delta("copied_bytes"), delta("pixel_bytes_sent"))
            #expect(commits >= Self.measuredFrames && copied >= Self.measuredFrames * frameBytes && sent >= Self.measuredFrames * frameBytes,
                    "\(kind): \(commits) commits, \(copied) bytes copied, \(sent) sent for \(Self.measuredFrames) frames of \(frameBytes) bytes")
            print(String(format: "frame cost, %@ (stream mode, %dx%d, every pixel changed): %d frames in %.3f s (%.1f fps); guest proxy: %d commits, %d bytes copied (%.0f a frame with the two windows' 2 frames counted), %d pixel bytes sent",
                         kind, Self.width, Self.height, Self.measuredFrames, seconds, Double(Self.measuredFrames) / seconds, commits, copied,
                         Double(copied) / Double(Self.measuredFrames + 2), sent))
        }
    }

    /// weston-simple-dmabuf-egl's window (256x256, drawn by GL) shows once
    /// the pattern's windows are gone, from dma-bufs.
    func checkMesaClient(vm: PortholeVM, weston: Weston) throws {
        let shot = try weston.waitForScreenshot("weston-simple-dmabuf-egl's window from the guest", timeout: 120, poll: 0.5) {
            Self.windows(in: $0).isEmpty && $0.regions(differingFrom: Weston.background, minPixels: 2000).contains { $0.width == 256 && $0.height == 256 }
        }
        let w = try #require(shot.regions(differingFrom: Weston.background, minPixels: 2000).first { $0.width == 256 && $0.height == 256 })
        #expect(shot.distinctColors(in: w) > 100, "a GL gradient, not a flat box: \(shot.sourcePath ?? "")")
        let stats = try vm.waitForGuestStats("the Mesa client's dma-bufs", timeout: 30) {
            // The pattern client's, then the measuring runs' (2 windows each, and the dma-buf run's frames).
            $0["dmabuf_buffers", default: 0] > 2 + 2 * Self.churnRounds + 2 + 3
        }
        #expect(stats["client_errors"] == 0, "\(stats)")
        print("weston-simple-dmabuf-egl in the guest (Mesa kms_swrast on vgem): window \(w) with \(shot.distinctColors(in: w)) colours; guest stats \(stats)")
    }

    /// The guest's stats once `condition` holds and its descriptor count has
    /// not changed for 2 s (a channel's resources go when the host has
    /// acknowledged its close, a moment after the client left).
    func settled(_ vm: PortholeVM, _ what: String, _ condition: @escaping ([String: Int]) -> Bool) throws -> [String: Int] {
        var last: (fds: Int, since: Double)?
        return try vm.waitForGuestStats(what, timeout: 30) { s in
            guard condition(s), let fds = s["open_fds"] else { last = nil; return false }
            if last?.fds != fds { last = (fds, monotonicSeconds()) }
            return monotonicSeconds() - last!.since >= 2
        }
    }

    /// After the pattern client, and after it again: the guest proxy holds
    /// the same descriptors and no registered buffer (region mode).
    func checkNothingHeldAfterClients(vm: PortholeVM, weston: Weston) throws {
        let first = try settled(vm, "the first pattern client gone") { $0["clients"] == 0 }
        _ = try weston.waitForScreenshot("the second run's windows", timeout: 60, poll: 0.2) { Self.windows(in: $0).count == 2 }
        #expect(FileManager.default.createFile(atPath: "\(vm.stateDir)/out/second-seen", contents: nil))
        let second = try settled(vm, "the second pattern client gone") { $0["clients"] == 0 && $0["dmabuf_buffers"] == 4 + 4 * Self.churnRounds }
        #expect(first["registered_buffers"] == 0 && second["registered_buffers"] == 0, "region buffers left registered: \(first) then \(second)")
        #expect(first["open_fds"] != nil && first["open_fds"] == second["open_fds"],
                "the guest proxy's descriptors after one client: \(first["open_fds"] ?? -1), after two: \(second["open_fds"] ?? -1)")
        // The sampler saw the dma-bufs mapped while the clients ran, and none
        // once they had gone (its newest line, written after the settle); the
        // descriptors are those it counted before the first client.
        let samples = ((try? String(contentsOfFile: "\(vm.stateDir)/out/samples", encoding: .utf8)) ?? "").split(separator: "\n")
            .map { $0.split(separator: " ").compactMap { Int($0) } }.filter { $0.count == 2 }
        let (before, now, peak) = (samples.first ?? [-1, -1], samples.last ?? [-1, -1], samples.map { $0[1] }.max() ?? -1)
        #expect(peak > 0 && now[1] == 0, "the guest proxy's dma-buf mappings: peak \(peak), now \(now[1])")
        #expect(before[0] > 0 && before[0] == now[0], "the guest proxy's descriptors before the first client: \(before[0]), now: \(now[0])")
        print("guest proxy after one dma-buf client and after two: \(first["open_fds"] ?? -1) and \(second["open_fds"] ?? -1) descriptors (\(before[0]) before any, \(now[0]) by the guest's own count); dma-buf mappings: peak \(peak), now \(now[1])")
    }

    @Test("dumb buffers from the guest's vgem, exported with PRIME and submitted through zwp_linux_dmabuf_v1 (one of them y-inverted), show pixel for pixel on the host's weston as wl_shm, identical to the same client on a weston of the guest's own, in stream and in region mode; buffers destroyed at commit are no error; a fully changed frame costs one frame's copy on either path; the guest proxy keeps no descriptor or mapping of a client that left; then weston-simple-dmabuf-egl (Mesa GBM on kms_swrast) shows too")
    func dumbBufferPatternShowsExactly() throws {
        let runtime = try RuntimeDir(prefix: "vm-dmabuf")
        let client = try Self.buildClient(in: runtime)
        defer {
            unlink(client.hostPath)
            unlink(URL(fileURLWithPath: client.hostPath).deletingLastPathComponent().path + "/" + Self.directScript)
        }
        for region in [false, true] {
            let mode = region ? "region" : "stream"
            let weston = try Weston(runtime: runtime)
            defer { weston.stop() }
            // In stream mode a Mesa client follows once the pattern is gone
            // (the test makes the stop file in the guest's share when it has
            // seen the pattern): GBM on kms_swrast over vgem's primary node,
            // importing with create_immed.
            // In region mode the pattern client runs twice, 3 s apart (the
            // guest proxy's stats are written twice a second): what the guest
            // proxy holds after each must be the same (the command then waits,
            // so that the proxy is not shutting down when it is counted).
            let pattern = "\(client.guestPath) --churn \(Self.churnRounds) /dev/dri/card0"
            // In region mode a sampler counts the guest proxy's descriptors
            // and dma-buf mappings (lines of its /proc maps) every 0.2 s
            // into the share, from before the first client ($PPID: the
            // command's parent is the guest proxy).
            let sampler = "{ while :; do echo $(ls /proc/$PPID/fd | wc -l) $(grep -c dmabuf /proc/$PPID/maps) >>/tmp/vm-out/samples; sleep 0.2; done & } && sleep 0.5 && "
            // In stream mode, once the pattern is gone, the frame cost is
            // measured (checkFrameCost); then the guest's own weston shows the
            // same client (guest_weston_direct.sh, checkDirectRunMatches), and
            // then the Mesa client runs. One after another: the guest has one
            // vCPU, and under a loaded host weston's GL start-up beside the
            // other clients has stalled past every deadline.
            // `cat`, not `cp`: the proxy rewrites its stats file by rename
            // twice a second, and GNU cp that sees it replaced mid-copy skips it
            // and fails, ending the command (fresh-clone CI twice lost a
            // snapshot so); cat reads the file it opened to its end.
            let snap = { (n: Int) in "sleep 1.2 && cat /tmp/vm-out/guest-stats.json >/tmp/vm-out/stats-\(n).json" }
            let frames = "\(snap(0)) && \(client.guestPath) --shm-frames \(Self.measuredFrames) /dev/dri/card0 0 >/tmp/vm-out/frames-shm && \(snap(1))"
                + " && \(client.guestPath) --frames \(Self.measuredFrames) /dev/dri/card0 0 >/tmp/vm-out/frames-dmabuf && \(snap(2))"
            let direct = "sh /tmp/vm-bin/\(Self.directScript) \(client.guestPath) /dev/dri/card0 /tmp/vm-out --churn \(Self.churnRounds)"
            let then = region ? " && sleep 3 && \(pattern) 120 /tmp/vm-out/second-seen && sleep 60"
                : " && \(frames) && \(direct) && exec weston-simple-dmabuf-egl -d /dev/dri/card0 -i 1"
            // The guest's own weston may take 240 s to start and its client
            // 120 s more under load (guest_weston_direct.sh), after the rest.
            let vm = try PortholeVM(runtime: runtime,
                                    command: ["sh", "-c", "modprobe vgem && \(region ? sampler : "")\(pattern) 120 /tmp/vm-out/pattern-seen\(then)"],
                                    hostDisplay: weston.socketName, region: region, timeout: 900)
            defer { vm.stop() }
            let shot = try weston.waitForScreenshot("the two dma-buf windows from the guest (\(mode) mode)", timeout: 120, poll: 0.2) {
                Self.windows(in: $0).count == 2
            }
            let windows = Self.windows(in: shot)
            for w in windows {
                #expect(Self.mismatches(in: shot, window: w) == 0, "\(mode) mode: window \(w) differs from the pattern in \(shot.sourcePath ?? "")")
            }
            let stats = try vm.waitForGuestStats("the dma-buf buffer counted (\(mode) mode)", timeout: 10) { $0["dmabuf_buffers"] == 2 + 2 * Self.churnRounds }
            #expect(stats["client_errors"] == 0 && stats["link_errors"] == 0, "\(mode): \(stats)")
            if region {
                #expect(stats["pixel_bytes_sent"] == 0 && stats["region_pools", default: 0] >= 1, "region mode: into the region, not over the link: \(stats)")
            } else {
                #expect(stats["pixel_bytes_sent", default: 0] >= 2 * Self.width * Self.height * 4, "stream mode: the pixels cross the link: \(stats)")
            }
            let hostLog = (try? String(contentsOfFile: "\(vm.stateDir)/host-proxy.log", encoding: .utf8)) ?? ""
            #expect(hostLog.contains("dma-buf buffers are presented as wl_shm copies: no render node / udmabuf on this host"), "\(hostLog)")
            print("dma-buf in the guest (\(mode) mode): windows \(windows) exact; guest stats \(stats)")
            #expect(FileManager.default.createFile(atPath: "\(vm.stateDir)/out/pattern-seen", contents: nil))
            if region {
                try checkNothingHeldAfterClients(vm: vm, weston: weston)
            } else {
                try checkFrameCost(vm: vm)
                try checkDirectRunMatches(vm: vm, throughPorthole: shot)
                try checkMesaClient(vm: vm, weston: weston)
            }
        }
    }
}
