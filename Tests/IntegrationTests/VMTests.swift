import Foundation
import Glibc
import SystemTestSupport
import Testing

/// Porthole with a real virtual machine: scripts/vm boots a QEMU guest
/// (TCG software emulation, the host's root filesystem over 9p) whose
/// `porthole guest` links to the host over a virtio-serial port.
@Suite("A real QEMU guest", .serialized, .tags(.processes))
struct VMTests {
    /// weston-simple-shm's window: a region of about 250x250 pixels that is
    /// not the plain desktop.
    static func simpleShmWindow(in shot: Image) -> Rect? {
        shot.regions(differingFrom: Weston.background, minPixels: 2000).first { r in
            (240...260).contains(r.width) && (240...260).contains(r.height)
        }
    }

    @Test("weston-simple-shm in a QEMU guest shows on the host weston (stream mode over virtio-serial); killing QEMU mid-frame leaves the host proxy running with no leaked fds or mappings")
    func streamModeThenQEMUKilled() throws {
        let runtime = try RuntimeDir(prefix: "vm")
        let weston = try Weston(runtime: runtime)
        defer { weston.stop() }
        let hostPath = runtime.file("host-link.sock")
        let host = try Porthole.startHost(runtime: runtime, link: .listen(.unix(hostPath)), display: weston.socketName)
        defer { host.terminate() }
        try host.waitForListening()
        let baselineFDs = try restingFDCount(host)
        let baselineMaps = try sharedMemoryMappings(pid: host.pid)

        // QEMU's virtio-serial socket reaches the host proxy through a relay
        // that can cut the link inside a frame (see LinkCutRelay).
        let relay = try LinkCutRelay(listenAt: runtime.file("qemu-link.sock"), forwardTo: hostPath)
        defer { relay.stop() }
        let vm = try PortholeVM(runtime: runtime, command: ["weston-simple-shm"], hostSocket: relay.path)
        defer { vm.stop() }
        try checkWindowAndFrames(vm: vm, weston: weston, host: host, baselineMaps: baselineMaps)

        // Kill QEMU halfway through a frame of pixels.
        let qemu = try #require(vm.qemuPID, "no qemu.pid\n\(vm.diagnostics())")
        relay.cutInsideNextFrame(minimumPayload: 64 * 1024) { _ = Glibc.kill(qemu, SIGKILL) }
        let cut = try #require(relay.waitForCut(timeout: 30), "no large frame to cut within 30 s\n\(vm.diagnostics())")

        // scripts/vm notices, reports no exit status, and cleans up.
        let vmExit = vm.process.waitForExit(timeout: 30)
        #expect(vmExit == .exited(125), "scripts/vm after QEMU was killed: \(vm.diagnostics())")
        #expect(Glibc.kill(qemu, 0) == -1 && errno == ESRCH, "QEMU (pid \(qemu)) is still there")
        #expect(!FileManager.default.fileExists(atPath: "/dev/shm/porthole-vm-\(vm.process.pid)"),
                "scripts/vm removes the region file it created")

        // The host proxy: still running, link and client gone, the partial
        // frame dropped, back to its descriptors and mappings from before.
        let closed = try host.waitForStats("the host to drop the link and its client", timeout: 15) {
            $0["links"] == 0 && $0["clients"] == 0
        }
        #expect(closed["link_errors"] == 0, "a killed VM is a closed link, not a protocol error: \(closed)")
        #expect(host.isRunning, "\(host.diagnostics())")
        let closeLine = host.process.stderr.split(separator: "\n").last { $0.contains("peer closed the connection") }
        print("VM kill: QEMU killed after \(cut); the host proxy logged: \(closeLine.map(String.init) ?? "(nothing)")")
        #expect(closeLine?.contains("in the middle of a frame (\(cut.passedBytes) bytes of it dropped)") == true,
                "\(host.diagnostics())")
        let fdsBack = waitUntil(timeout: 10) { (try? host.openFDCount()) == baselineFDs }
        #expect(fdsBack, """
            host fds: \(baselineFDs) before the VM, \((try? host.openFDCount()) ?? -1) now: \
            \((try? openFDs(pid: host.pid))?.sorted { $0.key < $1.key } ?? [])
            """)
        let mapsBack = waitUntil(timeout: 10) { (try? sharedMemoryMappings(pid: host.pid)) == baselineMaps }
        #expect(mapsBack, "host shared mappings: before \(baselineMaps), now \((try? sharedMemoryMappings(pid: host.pid)) ?? [])")

        // The host still serves: a new guest on its socket reaches weston.
        let guest = try Porthole.startGuest(runtime: runtime, link: .connect(.unix(hostPath)), socketName: "after-vm")
        defer { guest.terminate() }
        try guest.waitForSocket(timeout: 15)
        let info = parseWaylandInfoGlobals(try Weston.waylandInfo(display: "after-vm", runtime: runtime))
        #expect(info["wl_compositor"] != nil, "\(guest.diagnostics())\n\(host.diagnostics())")
        #expect(weston.isRunning)
    }

    /// The guest's window on the host screen, animating; boot and first-frame
    /// times and the frame rate in the guest, logged; stats on both sides.
    private func checkWindowAndFrames(vm: PortholeVM, weston: Weston, host: PortholeProcess, baselineMaps: [String]) throws {
        let ready = try vm.waitForGuestEvent("ready", timeout: 120)
        let command = try vm.waitForGuestEvent("command", timeout: 90)
        let shot = try weston.waitForScreenshot("weston-simple-shm's window from the guest", timeout: 120, poll: 0.2) {
            Self.simpleShmWindow(in: $0) != nil
        }
        let firstFrame = monotonicSeconds() - vm.startedAt
        let window = try #require(Self.simpleShmWindow(in: shot))
        #expect(shot.distinctColors(in: window) > 50, "the window is drawn, not a flat box: \(shot.sourcePath ?? "")")
        let later = try weston.waitForScreenshot("the guest window to change (an animation)", timeout: 30, poll: 0.2) {
            $0.cropped(to: window) != shot.cropped(to: window)
        }
        #expect(Self.simpleShmWindow(in: later) == window, "the window stays where it is")
        print("""
            VM timings (TCG): guest userland ready \(fmt(ready.host)) s after starting QEMU (guest uptime \
            \(fmt(ready.guestUptime)) s); guest command started at \(fmt(command.host)) s (guest uptime \
            \(fmt(command.guestUptime)) s); first frame on the host screen at \(fmt(firstFrame)) s, \
            \(fmt(firstFrame - command.host)) s after the command started
            """)

        // The guest proxy's stats, read through the VM's share.
        let before = try vm.waitForGuestStats("the guest proxy counting commits", timeout: 10) { $0["commits", default: 0] > 0 }
        let t0 = monotonicSeconds()
        sleepSeconds(5)
        let after = try vm.waitForGuestStats("guest stats", timeout: 5) { _ in true }
        let seconds = monotonicSeconds() - t0
        let fps = Double(after["commits", default: 0] - before["commits", default: 0]) / seconds
        let pixelRate = Double(after["pixel_bytes_sent", default: 0] - before["pixel_bytes_sent", default: 0]) / seconds / 1e6
        print("""
            VM frame rate (TCG, stream mode): weston-simple-shm committed \(fmt(fps)) frames/s inside the guest; \
            \(fmt(pixelRate)) MB/s of pixels over the virtio-serial port
            """)
        #expect(fps > 0, "no frames in 5 s: \(after)")
        #expect(after["pixel_bytes_sent", default: 0] > 0, "stream mode sends pixels over the link: \(after)")
        #expect(after["client_errors"] == 0 && after["link_errors"] == 0, "\(after)")
        let hostStats = try host.waitForStats("the guest's client on the host", timeout: 10) {
            $0["clients"] == 1 && $0["links"] == 1
        }
        #expect(hostStats["client_errors"] == 0, "\(hostStats)")
        let busyMaps = try sharedMemoryMappings(pid: host.pid)
        #expect(busyMaps.count > baselineMaps.count, "the host maps the client's pool while it runs: \(busyMaps)")
    }

    @Test("weston-simple-shm in a QEMU guest in shared-region mode: the window shows, no pixel crosses the link, the host copies nothing")
    func regionMode() throws {
        let runtime = try RuntimeDir(prefix: "vm")
        let weston = try Weston(runtime: runtime)
        defer { weston.stop() }
        let vm = try PortholeVM(runtime: runtime, command: ["weston-simple-shm"], hostDisplay: weston.socketName, region: true)
        defer { vm.stop() }
        let ready = try vm.waitForGuestEvent("ready", timeout: 120)
        let command = try vm.waitForGuestEvent("command", timeout: 90)
        let shot = try weston.waitForScreenshot("weston-simple-shm's window from the guest (region mode)", timeout: 120, poll: 0.2) {
            Self.simpleShmWindow(in: $0) != nil
        }
        let firstFrame = monotonicSeconds() - vm.startedAt
        let window = try #require(Self.simpleShmWindow(in: shot))
        #expect(shot.distinctColors(in: window) > 50, "the window is drawn, not a flat box")
        _ = try weston.waitForScreenshot("the guest window to change (region mode)", timeout: 30, poll: 0.2) {
            $0.cropped(to: window) != shot.cropped(to: window)
        }
        let before = try vm.waitForGuestStats("commits through the region", timeout: 10) { $0["commits", default: 0] > 0 }
        let t0 = monotonicSeconds()
        sleepSeconds(5)
        let after = try vm.waitForGuestStats("guest stats", timeout: 5) { _ in true }
        let fps = Double(after["commits", default: 0] - before["commits", default: 0]) / (monotonicSeconds() - t0)
        print("""
            VM timings (TCG, region mode): guest ready at \(fmt(ready.host)) s, command at \(fmt(command.host)) s, \
            first frame on the host screen at \(fmt(firstFrame)) s
            VM frame rate (TCG, region mode): weston-simple-shm committed \(fmt(fps)) frames/s inside the guest
            """)
        #expect(fps > 0, "no frames in 5 s: \(after)")
        #expect(after["pixel_bytes_sent"] == 0, "region mode: no pixel bytes on the link: \(after)")
        #expect(after["region_links"] == 1 && after["region_pools", default: 0] >= 1 && after["fallback_pools"] == 0, "\(after)")
        #expect(after["client_errors"] == 0 && after["link_errors"] == 0, "\(after)")
    }

    @Test("scripts/vm with its own host proxy: the guest command's exit status comes back, and nothing it started is left")
    func exitStatusAndTeardown() throws {
        let runtime = try RuntimeDir(prefix: "vm")
        let weston = try Weston(runtime: runtime)
        defer { weston.stop() }
        // Exit 7 only if the command saw weston's globals through the link.
        let vm = try PortholeVM(
            runtime: runtime,
            command: ["sh", "-c", "wayland-info | grep -q \"'wl_compositor'\" && exit 7; exit 1"],
            hostDisplay: weston.socketName, keepState: false, timeout: 240)
        defer { vm.stop() }
        let exit = vm.process.waitForExit(timeout: 240)
        #expect(exit == .exited(7), "\(vm.diagnostics())")
        let output = vm.process.stdout
        #expect(output.contains("PORTHOLE-VM-EXIT 7"), "\(vm.diagnostics())")

        // Everything scripts/vm started or made is gone.
        let qemu = try #require(vm.announcedPID("qemu"), "\(vm.diagnostics())")
        let hostProxy = try #require(vm.announcedPID("host proxy"), "\(vm.diagnostics())")
        for (name, pid) in [("qemu", qemu), ("host proxy", hostProxy)] {
            #expect(Glibc.kill(pid, 0) == -1 && errno == ESRCH, "\(name) (pid \(pid)) is still there")
        }
        #expect(!FileManager.default.fileExists(atPath: "/dev/shm/porthole-vm-\(vm.process.pid)"), "region file left")
        let linkLine = output.split(separator: "\n").first { $0.hasPrefix("vm: region ") }
        let stateDir = linkLine.flatMap { line -> String? in
            guard let range = line.range(of: ", link ") else { return nil }
            let path = line[range.upperBound...].prefix { $0 != "," }
            return URL(fileURLWithPath: String(path)).deletingLastPathComponent().path
        }
        let dir = try #require(stateDir, "no link path in: \(output.prefix(500))")
        #expect(dir.hasPrefix("/tmp/porthole-vm."), "\(dir)")
        #expect(!FileManager.default.fileExists(atPath: dir), "scripts/vm left its temporary dir \(dir)")
        #expect(weston.isRunning)
    }
}

private func fmt(_ x: Double) -> String { String(format: "%.1f", x) }
