import Foundation
import Glibc
import SystemTestSupport
import Testing

/// The buffer-sharing service between two real porthole processes on a
/// unix link (docs/buffer-sharing.md): `porthole share publish` in the
/// "guest", and on the "host" a consumer written in C against stock
/// libwayland-client (built here from the protocol XML with wayland-scanner)
/// next to `porthole buffers watch`.
@Suite("Buffer sharing between real proxies", .serialized, .tags(.processes))
struct BufferSharingTests {
    /// Builds Consumers/consumer.c with the code wayland-scanner makes from
    /// the consumer protocol; returns the executable's path.
    static func buildCConsumer(in runtime: RuntimeDir) throws -> String {
        let xml = packageRoot + "/protocols/porthole-buffer-consumer-v1.xml"
        let dir = runtime.path
        try runCommand("wayland-scanner", ["client-header", xml, dir + "/porthole-buffer-consumer-v1-client-protocol.h"], logDirectory: dir)
        try runCommand("wayland-scanner", ["private-code", xml, dir + "/porthole-buffer-consumer-v1-protocol.c"], logDirectory: dir)
        let executable = dir + "/consumer"
        try runCommand("cc", ["-O2", "-Wall", "-Wextra", "-Werror", "-I", dir, "-o", executable,
                              packageRoot + "/Tests/IntegrationTests/Consumers/consumer.c", dir + "/porthole-buffer-consumer-v1-protocol.c",
                              "-lwayland-client"], logDirectory: dir, timeout: 120)
        return executable
    }

    /// A host serving consumers on RUNTIME/consumers.sock and a guest
    /// serving producers on RUNTIME/producers.sock, joined by a unix link.
    struct Pair {
        let runtime: RuntimeDir
        let host: PortholeProcess
        let guest: PortholeProcess
        var consumers: String { runtime.file("consumers.sock") }
        var producers: String { runtime.file("producers.sock") }

        /// `hostArguments`, `guestArguments`: more for each (a shared region, say).
        init(runtime: RuntimeDir, hostArguments: [String] = [], guestArguments: [String] = []) throws {
            self.runtime = runtime
            let link = LinkAddress.unix(in: runtime)
            host = try Porthole.startHost(runtime: runtime, link: .listen(link), display: "wayland-none",
                                          extraArguments: ["--buffers-socket", runtime.file("consumers.sock")] + hostArguments)
            try host.waitForListening()
            guest = try Porthole.startGuest(runtime: runtime, link: .connect(link),
                                            extraArguments: ["--buffers-socket", runtime.file("producers.sock")] + guestArguments)
            let producers = runtime.file("producers.sock")
            try #require(waitUntil { isSocket(producers) }, "no producer socket\n\(guest.diagnostics())")
        }

        func stop() {
            guest.terminate()
            host.terminate()
        }

        func porthole(_ arguments: [String]) throws -> ManagedProcess {
            try ManagedProcess(try portholeBinary(), arguments, environment: ["XDG_RUNTIME_DIR": runtime.path], logDirectory: runtime.path)
        }
    }

    @Test func everyUpdateReachesACConsumerAndPortholeBuffersWatchWithItsPixels() throws {
        let runtime = try RuntimeDir()
        let cConsumer = try Self.buildCConsumer(in: runtime)
        let pair = try Pair(runtime: runtime)
        defer { pair.stop() }
        let frames = 90
        let c = try ManagedProcess(cConsumer, [pair.consumers, "camera", "\(frames)"], logDirectory: runtime.path)
        let watch = try pair.porthole(["buffers", "watch", "--socket", pair.consumers, "--app", "camera", "--frames", "\(frames)", "--quiet"])
        try pair.host.waitForStats("both consumers") { $0["buffer_consumers"] == 2 }
        let publish = try runCommand(try portholeBinary(), ["share", "publish", "--socket", pair.producers, "--app", "camera", "--size", "640x480",
                                                            "--fps", "30", "--frames", "\(frames)", "--pattern"],
                                     environment: ["XDG_RUNTIME_DIR": runtime.path], logDirectory: runtime.path, timeout: 60)
        #expect(publish.stdoutText.contains("published \(frames) frames of 640x480 XRGB8888 as camera"), "\(publish.stdoutText)")
        #expect(publish.stdoutText.contains("0 not released in time"), "\(publish.stdoutText)")

        let cExit = c.waitForExit(timeout: 20)
        #expect(cExit?.succeeded == true, "\(c.diagnostics())")
        #expect(c.stdout.contains("consumer: \(frames) updates, \(frames) verified, 0 bad, 0 gaps"), "\(c.stdout)\n\(c.stderr)")
        let watchExit = watch.waitForExit(timeout: 20)
        #expect(watchExit?.succeeded == true, "\(watch.diagnostics())")
        #expect(watch.stdout.contains("watched \(frames) updates (\(frames) verified, 0 bad)"), "\(watch.stdout)")

        // Only the damaged bytes that changed crossed the link: the first
        // whole buffer, then two bands and the stamp's row per frame.
        let guestStats = try pair.guest.stats()
        let whole = 640 * 480 * 4, perFrame = (2 * 16 + 1) * 640 * 4
        let sent = guestStats["pixel_bytes_sent"] ?? 0
        #expect(sent > 0 && sent <= whole + frames * perFrame, "\(sent) pixel bytes for \(frames) frames")
        // The producer is gone and so is its buffer; the consumers too.
        let after = try pair.host.waitForStats("the buffer removed") { $0["shared_buffers"] == 0 && $0["buffer_consumers"] == 0 }
        #expect(after["buffer_presents"] == frames && after["consumer_evictions"] == 0, "\(after)")
    }

    /// A producer drawing in the shared region (`share publish --region`):
    /// the C consumer and `porthole buffers watch` verify every frame, no
    /// pixel byte crosses the link, and the host copies one only for
    /// consumers it does not trust with the region.
    @Test("region buffers reach consumers with no pixel byte on the link", arguments: [true, false])
    func regionBuffersReachConsumersWithNoPixelByteOnTheLink(trusted: Bool) throws {
        let runtime = try RuntimeDir()
        let cConsumer = try Self.buildCConsumer(in: runtime)
        let file = runtime.file("region")
        let pair = try Pair(runtime: runtime, hostArguments: ["--region", file, "--region-size", "4M"] + (trusted ? [] : ["--buffers-region-consumers", "none"]),
                            guestArguments: ["--region", file])
        defer { pair.stop() }
        try pair.guest.waitForStats("the region agreed") { $0["region_links"] == 1 }
        let frames = 60
        let c = try ManagedProcess(cConsumer, [pair.consumers, "camera", "\(frames)"], logDirectory: runtime.path)
        let watch = try pair.porthole(["buffers", "watch", "--socket", pair.consumers, "--app", "camera", "--frames", "\(frames)", "--quiet"])
        try pair.host.waitForStats("both consumers") { $0["buffer_consumers"] == 2 }
        let publish = try runCommand(try portholeBinary(), ["share", "publish", "--socket", pair.producers, "--app", "camera", "--size", "640x480",
                                                            "--fps", "60", "--frames", "\(frames)", "--pattern", "--region"],
                                     environment: ["XDG_RUNTIME_DIR": runtime.path], logDirectory: runtime.path, timeout: 60)
        #expect(publish.stdoutText.contains("published \(frames) frames of 640x480 XRGB8888 as camera"), "\(publish.stdoutText)")
        #expect(c.waitForExit(timeout: 20)?.succeeded == true, "\(c.diagnostics())")
        #expect(c.stdout.contains("consumer: \(frames) updates, \(frames) verified, 0 bad, 0 gaps"), "\(c.stdout)\n\(c.stderr)")
        #expect(watch.waitForExit(timeout: 20)?.succeeded == true, "\(watch.diagnostics())")
        #expect(watch.stdout.contains("watched \(frames) updates (\(frames) verified, 0 bad)"), "\(watch.stdout)")

        #expect(try pair.guest.stats()["pixel_bytes_sent"] == 0, "pixel bytes on the link")
        let host = try pair.host.waitForStats("the buffer removed") { $0["shared_buffers"] == 0 && $0["buffer_consumers"] == 0 }
        let copied = host["region_copy_bytes"] ?? -1
        if trusted {
            #expect(copied == 0, "host copies with trusted consumers: \(host)")
        } else {
            // One whole copy at publish, then exactly the damage: the new band
            // (and from frame 2 the old one) and the stamp's 32 bytes a frame.
            let whole = 640 * 480 * 4, band = 16 * 640 * 4
            #expect(copied == whole + (2 * frames - 1) * band + frames * 32, "\(copied) bytes copied: \(host)")
        }
    }

    @Test func aKilledProducerIsAResetAKilledGuestADisconnectAndTheHostFreesEveryFd() throws {
        let runtime = try RuntimeDir()
        let pair = try Pair(runtime: runtime)
        defer { pair.stop() }
        let watch = try pair.porthole(["buffers", "watch", "--socket", pair.consumers, "--app", "camera", "--duration", "60"])
        defer { watch.terminate() }
        try pair.host.waitForStats("the consumer") { $0["buffer_consumers"] == 1 }
        let baseline = try pair.host.openFDCount()
        let publish = try pair.porthole(["share", "publish", "--socket", pair.producers, "--app", "camera", "--size", "320x240", "--fps", "30", "--pattern"])
        defer { publish.terminate() }
        try pair.host.waitForStats("the buffer") { $0["shared_buffers"] == 1 && ($0["buffer_presents"] ?? 0) >= 10 }
        #expect(try pair.host.openFDCount() > baseline)
        let env = ["XDG_RUNTIME_DIR": runtime.path]
        let list = try runCommand(try portholeBinary(), ["buffers", "list", "--socket", pair.consumers], environment: env, logDirectory: runtime.path)
        #expect(list.stdoutText == "1 guest=guest app=camera size=307200 width=320 height=240 stride=1280 format=XRGB8888\n", "\(list.stdoutText)")
        let png = runtime.file("buffer-1.png")
        try runCommand(try portholeBinary(), ["buffers", "dump", "--socket", pair.consumers, "1", png], environment: env, logDirectory: runtime.path)
        let identify = try runCommand("identify", ["-format", "%m %wx%h", png], logDirectory: runtime.path)
        #expect(identify.stdoutText == "PNG 320x240", "\(identify.stdoutText)")

        publish.kill()
        let reset = try pair.host.waitForStats("the producer's reset") { $0["shared_buffers"] == 0 && $0["buffer_resets"] == 1 }
        #expect(reset["buffer_producers"] == 0, "\(reset)")
        #expect(waitUntil { watch.stdout.contains("buffer 1 removed") && watch.stdout.contains("guest guest reset") }, "\(watch.stdout)")

        // The guest's link, and its bulk lane (docs/link-protocol.md §14): one socket each.
        let lanes = try #require(try pair.host.stats()["bulk_lanes"])
        #expect(lanes == 1, "the guest has no bulk lane")
        _ = pair.guest.process.kill()
        try pair.host.waitForStats("the guest gone") { $0["links"] == 0 && $0["bulk_lanes"] == 0 }
        #expect(waitUntil { watch.stdout.contains("guest guest disconnected") }, "\(watch.stdout)")
        let fds = { (try? pair.host.openFDCount()) ?? -1 }
        #expect(waitUntil { fds() == baseline - 1 - lanes }, "the host holds \(fds()) fds, \(baseline) with the guest's link and lane")
        #expect(watch.isRunning, "the consumer was not disturbed")
    }

    @Test func aProducerWaitsForEveryConsumerAndGivesUpAfterItsTimeoutUntilTheHolderIsEvicted() throws {
        let runtime = try RuntimeDir()
        let pair = try Pair(runtime: runtime)
        defer { pair.stop() }
        let env = ["XDG_RUNTIME_DIR": runtime.path]
        let releasing = try pair.porthole(["buffers", "watch", "--socket", pair.consumers, "--app", "camera", "--frames", "12", "--quiet"])
        defer { releasing.terminate() }
        let holding = try pair.porthole(["buffers", "watch", "--socket", pair.consumers, "--app", "camera", "--duration", "30", "--hold"])
        defer { holding.terminate() }
        try pair.host.waitForStats("both consumers") { $0["buffer_consumers"] == 2 }
        // Each frame is waited on for at most 0.5 s: the holder keeps them
        // until the host evicts it, 2 s after the first; from then on the
        // releasing consumer alone answers, at once.
        let run = try runCommand(try portholeBinary(), ["share", "publish", "--socket", pair.producers, "--app", "camera", "--size", "64x64",
                                                        "--fps", "0", "--frames", "12", "--release-timeout", "0.5", "--pattern"],
                                 environment: env, logDirectory: runtime.path, timeout: 30)
        let late = run.stdoutText.split(separator: ";").last.flatMap { Int($0.split(separator: " ").first ?? "") }
        #expect(late.map { (3...5).contains($0) } == true, "frames waited on in vain: \(run.stdoutText)")
        #expect(holding.waitForExit(timeout: 10)?.succeeded == false, "the holder was not evicted\n\(holding.diagnostics())")
        #expect(holding.stderr.contains("evicted: an update stayed unreleased for more than 2.0 s"), "\(holding.stderr)")
        let evicted = try pair.host.waitForStats("the eviction") { $0["consumer_evictions"] == 1 }
        #expect(evicted["shared_buffers"] == 0)
        // The releasing consumer saw every frame.
        #expect(releasing.waitForExit(timeout: 10)?.succeeded == true, "\(releasing.diagnostics())")
        #expect(releasing.stdout.contains("watched 12 updates (12 verified, 0 bad)"), "\(releasing.stdout)")
    }
}
