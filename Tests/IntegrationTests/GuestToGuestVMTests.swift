import Foundation
import Glibc
import SystemTestSupport
import Testing

/// Zero copy between two real QEMU guests (scripts/vm: TCG, each link over
/// its own virtio-serial port) on one `porthole host`: both VMs have an
/// ivshmem-plain device backed by the one host file the host declares a
/// sharing region of exactly these two guests (docs/buffer-sharing.md §8).
@Suite("Buffer sharing between two QEMU guests", .serialized, .tags(.processes))
struct GuestToGuestVMTests {
    @Test("a guest's consumer verifies every frame another guest grants it from their sharing region, no pixel crosses a link, and killing the producer's QEMU revokes the grant and frees everything on the host")
    func twoGuestsShareARegionAndAKilledProducerRevokes() throws {
        let runtime = try RuntimeDir(prefix: "g2gvm")
        let hostPath = runtime.file("host-link.sock"), common = runtime.file("sharing-region")
        // The host names guests in the order their links arrive: A's QEMU
        // connects first (guest), B's second (guest-2).
        let host = try Porthole.startHost(runtime: runtime, link: .listen(.unix(hostPath)), display: "wayland-none",
                                          extraArguments: ["--shared-region", "\(common):guest,guest-2"])
        defer { host.terminate() }
        try host.waitForListening()
        // The host made the region file (64 MiB, scripts/vm's default size).
        try #require(FileManager.default.fileExists(atPath: common), "\(host.diagnostics())")

        let frames = 30
        let porthole = "/tmp/vm-bin/porthole", out = "/tmp/vm-out"
        // Each guest says when its buffer sockets are up, then waits for the
        // test: A for 'go', B for the handle A printed.
        let ready = #"until [ -S "$XDG_RUNTIME_DIR/$1" ]; do sleep 0.1; done; echo BUFFERS-READY; "#
        let a = ready + """
            until [ -e \(out)/go ]; do sleep 0.1; done; \
            \(porthole) share publish --app camera --size 640x480 --fps 30 --pattern --shared --grant guest-2 >\(out)/publish.txt 2>&1; \
            echo PUBLISH-EXIT $?; sleep 3600
            """
        let watch = "\(porthole) buffers watch --socket porthole-buffer-consumers --import \"$(cat \(out)/handle)\""
        let b = ready + """
            until [ -s \(out)/handle ]; do sleep 0.1; done; \
            \(watch) --frames \(frames) --quiet >\(out)/watch.txt 2>&1; echo WATCH-EXIT $?; \
            \(watch) --duration 600 >\(out)/holder.txt 2>&1; echo HOLDER-EXIT $?; sleep 3600
            """
        let sharer = ["--shared-region", "pci"]
        let vmA = try PortholeVM(runtime: runtime, command: ["/bin/sh", "-c", a, "sh", "porthole-buffers"], hostSocket: hostPath,
                                 guestOptions: sharer, regionFile: common)
        defer { _ = vmA.stop() }
        try host.waitForStats("A's QEMU to connect", timeout: 60) { $0["links"] == 1 }
        let vmB = try PortholeVM(runtime: runtime, command: ["/bin/sh", "-c", b, "sh", "porthole-buffer-consumers"], hostSocket: hostPath,
                                 guestOptions: sharer, regionFile: common)
        defer { _ = vmB.stop() }
        for vm in [vmA, vmB] {
            try #require(waitUntil(timeout: 180, poll: 0.1) { marker("BUFFERS-READY", in: vm) != nil || !vm.process.isRunning },
                         "\(vm.diagnostics())")
            try #require(marker("BUFFERS-READY", in: vm) != nil, "\(vm.diagnostics())")
        }
        let booted = monotonicSeconds() - vmA.startedAt
        let baselineFDs = try restingFDCount(host)
        try "go\n".write(toFile: "\(vmA.stateDir)/out/go", atomically: true, encoding: .utf8)

        // A's handle, through the test to B's share.
        let publishLog = "\(vmA.stateDir)/out/publish.txt"
        let line = try waitFor("A's handle", timeout: 60, poll: 0.1) { () -> String? in
            ((try? String(contentsOfFile: publishLog, encoding: .utf8)) ?? "").split(separator: "\n")
                .first { $0.hasPrefix("handle ") && $0.hasSuffix(" for guest-2") }.map(String.init)
        }
        let handle = String(line.split(separator: " ")[1])
        #expect(handle.count == 32, "\(line)")
        try "\(handle)\n".write(toFile: "\(vmB.stateDir)/out/handle", atomically: true, encoding: .utf8)
        let t0 = monotonicSeconds()

        // B verifies every frame of its import.
        try #require(waitUntil(timeout: 120, poll: 0.1) { marker("WATCH-EXIT", in: vmB) != nil }, "\(vmB.diagnostics())")
        let watched = (try? String(contentsOfFile: "\(vmB.stateDir)/out/watch.txt", encoding: .utf8)) ?? ""
        let watchSeconds = monotonicSeconds() - t0
        #expect(marker("WATCH-EXIT", in: vmB) == "WATCH-EXIT 0", "\(watched)\n\(vmB.diagnostics())")
        #expect(watched.contains("watched \(frames) updates (\(frames) verified, 0 bad)"), "\(watched)")

        // A second consumer in B holds the import while A's QEMU is killed.
        let holderLog = "\(vmB.stateDir)/out/holder.txt"
        let holder = { (try? String(contentsOfFile: holderLog, encoding: .utf8)) ?? "" }
        try #require(waitUntil(timeout: 60, poll: 0.1) { holder().contains("added: guest=guest app=camera") && holder().contains("updates/s") },
                     "\(holder())\n\(vmB.diagnostics())")
        let during = try host.waitForStats("B's one view, shared") {
            $0["guest_consumer_views_shared"] == 1 && $0["buffer_references"] == 1
        }
        #expect(during["guest_consumer_views_copied"] == 0 && during["region_copy_bytes"] == 0 && during["shared_buffers"] == 1, "\(during)")
        // Not a pixel byte on either link, either way.
        #expect(during["pixel_bytes_sent"] == 0, "host: \(during)")
        for (name, vm) in [("A", vmA), ("B", vmB)] {
            let guest = try vm.waitForGuestStats("\(name)'s guest proxy stats", timeout: 10) { _ in true }
            #expect(guest["pixel_bytes_sent"] == 0, "\(name): \(guest)")
        }
        #expect(try host.waitForLog(containing: "reaches a consumer in the guest shared").contains("guest-2"), "\(host.diagnostics())")
        #expect(!host.process.stderr.contains("reaches a consumer in the guest copied"), "\(host.diagnostics())")

        let qemu = try #require(vmA.qemuPID, "no qemu.pid\n\(vmA.diagnostics())")
        _ = Glibc.kill(qemu, SIGKILL)
        try #require(waitUntil(timeout: 30, poll: 0.1) { marker("HOLDER-EXIT", in: vmB) != nil }, "\(holder())\n\(vmB.diagnostics())")
        #expect(marker("HOLDER-EXIT", in: vmB) == "HOLDER-EXIT 0" && holder().contains("reference revoked"), "\(holder())")
        let after = try host.waitForStats("everything of A let go", timeout: 30) {
            $0["links"] == 1 && $0["shared_buffers"] == 0 && $0["buffer_references"] == 0 && $0["buffer_consumers"] == 0
                && $0["guest_consumer_views_shared"] == 0 && $0["guest_consumer_views_copied"] == 0
        }
        #expect(after["link_errors"] == 0 && after["buffer_producers"] == 0, "\(after)")
        // Only A's link socket is gone from what the host held with both guests up.
        let fds = { (try? host.openFDCount()) ?? -1 }
        #expect(waitUntil(timeout: 10) { fds() == baselineFDs - 1 }, "the host holds \(fds()) fds, \(baselineFDs) with A's link")
        print("""
            Two QEMU guests (TCG): both ready \(String(format: "%.1f", booted)) s after A's VM started; \
            B verified \(frames) frames of 640x480 in \(String(format: "%.1f", watchSeconds)) s from the handle
            """)
    }
}

/// The guest console's first line starting with `prefix` (what the guest's
/// script echoed, not a log line quoting the script), trimmed.
private func marker(_ prefix: String, in vm: PortholeVM) -> String? {
    vm.console.split(whereSeparator: \.isNewline).first { $0.hasPrefix(prefix) }
        .map { $0.trimmingCharacters(in: .whitespaces) }
}
