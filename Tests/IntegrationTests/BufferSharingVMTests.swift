import Foundation
import Glibc
import SystemTestSupport
import Testing

/// Buffer sharing from a real QEMU guest (scripts/vm: TCG, the link over a
/// virtio-serial port): a producer in the guest, the C consumer and
/// `porthole buffers watch` on the host.
@Suite("Buffer sharing from a real QEMU guest", .serialized, .tags(.processes))
struct BufferSharingVMTests {
    @Test func everyFrameOfAGuestProducerIsVerifiedAKilledProducerIsAResetAKilledQEMUADisconnectAndTheHostFreesEverything() throws {
        let runtime = try RuntimeDir(prefix: "vm")
        let cConsumer = try BufferSharingTests.buildCConsumer(in: runtime)
        let hostPath = runtime.file("host-link.sock"), consumers = runtime.file("consumers.sock")
        let host = try Porthole.startHost(runtime: runtime, link: .listen(.unix(hostPath)), display: "wayland-none",
                                          extraArguments: ["--buffers-socket", consumers])
        defer { host.terminate() }
        try host.waitForListening()
        let frames = 60
        let c = try ManagedProcess(cConsumer, [consumers, "camera", "\(frames)"], logDirectory: runtime.path)
        defer { c.terminate() }
        let watch = try ManagedProcess(try portholeBinary(), ["buffers", "watch", "--socket", consumers, "--app", "camera", "--duration", "900"],
                                       environment: ["XDG_RUNTIME_DIR": runtime.path], logDirectory: runtime.path)
        defer { watch.terminate() }
        try host.waitForStats("both consumers") { $0["buffer_consumers"] == 2 }
        let baselineFDs = try restingFDCount(host)
        let baselineMaps = try sharedMemoryMappings(pid: host.pid)

        // In the guest: 60 frames of 640x480 at 30 frames/s, then a second
        // producer killed with SIGKILL after a few seconds.
        let share = "/tmp/vm-bin/porthole share publish --app camera --size 640x480 --format XRGB8888 --fps 30 --pattern"
        let script = "\(share) --frames \(frames); \(share) & sleep 8; kill -KILL $!; echo PRODUCER-KILLED; sleep 3600"
        let vm = try PortholeVM(runtime: runtime, command: ["/bin/sh", "-c", script], hostSocket: hostPath, timeout: 900)
        defer { _ = vm.stop() }

        let cExit = c.waitForExit(timeout: 600)
        #expect(cExit?.succeeded == true, "\(c.diagnostics())\n\(vm.diagnostics())")
        #expect(c.stdout.contains("consumer: \(frames) updates, \(frames) verified, 0 bad, 0 gaps"), "\(c.stdout)\n\(c.stderr)")
        let reset = try host.waitForStats("the killed producer's reset", timeout: 300) { $0["buffer_resets"] == 1 && $0["shared_buffers"] == 0 }
        #expect(reset["buffer_producers"] == 0 && reset["client_errors"] == 0, "\(reset)")
        #expect(waitUntil(timeout: 10) { watch.stdout.contains("guest guest reset") }, "\(watch.stdout)")
        #expect(waitUntil(timeout: 10) { vm.console.contains("PRODUCER-KILLED") }, "\(vm.diagnostics())")

        let qemu = try #require(vm.qemuPID, "no qemu.pid\n\(vm.diagnostics())")
        _ = Glibc.kill(qemu, SIGKILL)
        try host.waitForStats("the guest gone", timeout: 30) { $0["links"] == 0 }
        #expect(waitUntil(timeout: 10) { watch.stdout.contains("guest guest disconnected") }, "\(watch.stdout)")
        // The C consumer's connection is gone too, and nothing else remains.
        let fdsBack = waitUntil(timeout: 10) { (try? host.openFDCount()) == baselineFDs - 1 }
        #expect(fdsBack, "host fds: \(baselineFDs) before the VM with two consumers, \((try? host.openFDCount()) ?? -1) after with one")
        let mapsBack = waitUntil(timeout: 10) { (try? sharedMemoryMappings(pid: host.pid)) == baselineMaps }
        #expect(mapsBack, "host shared mappings: before \(baselineMaps), now \((try? sharedMemoryMappings(pid: host.pid)) ?? [])")

        watch.signal(SIGTERM)
        #expect(watch.waitForExit(timeout: 10) != nil)
        let summary = watch.stdout.split(separator: "\n").last { $0.hasPrefix("watched ") }.map(String.init) ?? ""
        #expect(summary.contains(" verified, 0 bad)"), "\(watch.stdout)")
        let rates = watch.stdout.split(separator: "\n").filter { $0.contains("updates/s") && !$0.hasPrefix("watched") }
        print("VM buffer sharing (TCG, debug build): \(summary); per second: \(rates.map { $0.split(separator: ":")[1].split(separator: ",")[0] })")
    }
}
