import Foundation
import Glibc
import Harness
import SystemTestSupport
import Testing

/// `porthole pipewire export` against a real PipeWire daemon started here
/// (no session manager: pw-link joins the ports): frames `porthole share
/// publish` makes in the "guest" reach GStreamer's pipewiresrc and a C
/// pw_stream consumer (Consumers/pipewire-consumer.c) through the node,
/// with their pixels, sequence and damage.
@Suite("PipeWire bridge with a real daemon", .serialized, .tags(.processes))
struct PipeWireExportTests {
    /// Builds Consumers/pipewire-consumer.c against libpipewire-0.3.
    static func buildConsumer(in runtime: RuntimeDir) throws -> String {
        let flags = try runCommand("pkg-config", ["--cflags", "--libs", "libpipewire-0.3"], logDirectory: runtime.path).stdoutText
            .split(whereSeparator: \.isWhitespace).map(String.init)
        let executable = runtime.file("pipewire-consumer")
        try runCommand("cc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", executable,
                              packageRoot + "/Tests/IntegrationTests/Consumers/pipewire-consumer.c"] + flags,
                       logDirectory: runtime.path, timeout: 120)
        return executable
    }

    /// A daemon, a host and guest on a unix link, and the bridge exporting
    /// application camera.
    struct Setup {
        let runtime: RuntimeDir
        let daemon: PipeWireDaemon
        let pair: BufferSharingTests.Pair
        let bridge: ManagedProcess

        init(bridgeArguments: [String] = []) throws {
            runtime = try RuntimeDir()
            daemon = try PipeWireDaemon(runtime: runtime)
            pair = try BufferSharingTests.Pair(runtime: runtime)
            bridge = try ManagedProcess(try portholeBinary(), ["pipewire", "export", "--app", "camera", "--buffers-socket", pair.consumers] + bridgeArguments,
                                        environment: daemon.environment, logDirectory: runtime.path)
        }

        func publish(_ size: String, format: String = "XRGB8888") throws -> ManagedProcess {
            try pair.porthole(["share", "publish", "--socket", pair.producers, "--app", "camera", "--size", size, "--format", format,
                               "--fps", "30", "--pattern"])
        }

        /// Waits for the bridge to report `text` (a line containing it).
        func bridgeSays(_ text: String, timeout: Double = 20) throws {
            let said = waitUntil(timeout: timeout) { bridge.stdout.contains(text) }
            try #require(said, "the bridge never said '\(text)'\n\(bridge.diagnostics())\n\(pair.host.diagnostics())")
        }

        /// Starts the C consumer as node `name` and links the bridge's node to it.
        func consumer(_ executable: String, name: String, frames: Int, seconds: Int, node: String) throws -> ManagedProcess {
            let c = try ManagedProcess(executable, [name, "\(frames)", "\(seconds)"], environment: daemon.environment, logDirectory: runtime.path)
            try daemon.link("\(node):out_0", "\(name):in_0")
            return c
        }

        func stop() {
            bridge.terminate()
            pair.stop()
            daemon.stop()
        }
    }

    /// The consumer's frame lines: (sequence, size, ok, latency µs, damage regions).
    static func frames(_ output: String) -> [(sequence: UInt32, size: String, ok: Bool, latency: Int, regions: Int)] {
        output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 7, f[0] == "frame", let s = UInt32(f[1]), let l = Int(f[4]), let r = Int(f[5]) else { return nil }
            return (s, String(f[2]), f[3] == "ok", l, r)
        }
    }

    @Test func framesAGuestPublishesReachGStreamerThroughThePipeWireNodeAndAVanishingConsumerDisturbsNoOne() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let consumer = try Self.buildConsumer(in: setup.runtime)
        let publish = try setup.publish("640x480")
        defer { publish.terminate() }
        let node = "porthole.guest.camera.1"
        try setup.bridgeSays("node \(node) (id ")

        // A consumer that is SIGKILLed mid-stream.
        let doomed = try setup.consumer(consumer, name: "doomed", frames: 100_000, seconds: 60, node: node)
        let streamed = waitUntil(timeout: 15) { Self.frames(doomed.stdout).filter(\.ok).count >= 5 }
        try #require(streamed, "no frames reached the first consumer\n\(doomed.diagnostics())\n\(setup.bridge.diagnostics())")
        #expect(Self.frames(doomed.stdout).allSatisfy { $0.ok })
        doomed.kill()

        // GStreamer records 20 frames into a file.
        let file = setup.runtime.file("frames.raw")
        let gst = try ManagedProcess("gst-launch-1.0", ["-q", "pipewiresrc", "target-object=\(node)", "num-buffers=20", "!",
                                                        "video/x-raw,format=BGRx,width=640,height=480", "!", "filesink", "location=\(file)"],
                                     environment: setup.daemon.environment, logDirectory: setup.runtime.path)
        try setup.daemon.link("\(node):out_0", "gst-launch-1.0:in_0")
        let exit = gst.waitForExit(timeout: 30)
        #expect(exit?.succeeded == true, "\(gst.diagnostics())\n\(setup.bridge.diagnostics())")
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let frameBytes = 640 * 480 * 4
        #expect(data.count == 20 * frameBytes)
        var sequences: [UInt32] = []
        data.withUnsafeBytes { raw in
            for i in 0..<(raw.count / frameBytes) {
                let base = raw.baseAddress! + i * frameBytes
                guard let stamp = FrameStamp.read(base, size: frameBytes) else { continue }
                #expect(FrameStamp.verify(base, size: frameBytes, sequence: stamp.sequence), "frame \(i) (sequence \(stamp.sequence))")
                sequences.append(stamp.sequence)
            }
        }
        #expect(sequences.count == 20)
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $0 < $1 }, "\(sequences)")

        // The bridge, the guest's producer and the host carry on: no
        // eviction, the bridge still subscribed, frames still presented.
        #expect(setup.bridge.isRunning, "\(setup.bridge.diagnostics())")
        #expect(publish.isRunning, "\(publish.diagnostics())")
        let before = try setup.pair.host.waitForStats("presents") { ($0["buffer_presents"] ?? 0) > 0 }
        let after = try setup.pair.host.waitForStats("more presents") { ($0["buffer_presents"] ?? 0) >= (before["buffer_presents"] ?? 0) + 10 }
        #expect(after["consumer_evictions"] == 0)
        #expect(after["buffer_consumers"] == 1)

        // SIGTERM stops the bridge cleanly: its node leaves the graph, it
        // says what it did, and exits 0.
        let stopped = setup.bridge.terminate()
        #expect(stopped.succeeded, "\(setup.bridge.diagnostics())")
        #expect(setup.bridge.stdout.contains("node \(node) removed: the bridge stops"))
        #expect(setup.bridge.stdout.contains("exported "))
        #expect(waitUntil(timeout: 10) { (try? setup.daemon.nodeNames().contains(node)) == false })
    }

    @Test func aProducerRestartedAtAnotherSizeRenegotiatesTheNodeWhichGoesWithItsGuestAndTheBridgeEndsWithTheDaemon() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let consumer = try Self.buildConsumer(in: setup.runtime)
        let first = try setup.publish("640x480")
        let node = "porthole.guest.camera.1"
        try setup.bridgeSays("node \(node) (id ")
        let c = try setup.consumer(consumer, name: "follower", frames: 100_000, seconds: 60, node: node)
        let big = waitUntil(timeout: 15) { Self.frames(c.stdout).filter { $0.ok && $0.size == "640x480" }.count >= 5 }
        try #require(big, "\(c.diagnostics())\n\(setup.bridge.diagnostics())")

        // The producer goes; another comes at 320x240: the same node, a new format.
        first.terminate()
        try setup.bridgeSays("node \(node) idle")
        let second = try setup.publish("320x240")
        defer { second.terminate() }
        try setup.bridgeSays("node \(node) takes buffer")
        #expect(setup.bridge.stdout.contains("renegotiating 320x240 BGRx"))
        let small = waitUntil(timeout: 15) { Self.frames(c.stdout).filter { $0.ok && $0.size == "320x240" }.count >= 5 }
        try #require(small, "\(c.diagnostics())\n\(setup.bridge.diagnostics())")
        #expect(try setup.daemon.nodeProperty(node, "porthole.buffer") == "2")
        let seen = Self.frames(c.stdout)
        #expect(seen.allSatisfy { $0.ok }, "\(c.stdout)")
        // The band pattern damages two bands and the stamp's row: 3 regions.
        #expect(seen.filter { $0.regions == 3 }.count >= seen.count - 2, "\(c.stdout)")

        // The guest goes: its node leaves the graph, the bridge stays.
        setup.pair.guest.process.kill()
        try setup.bridgeSays("node \(node) removed: its guest disconnected")
        #expect(waitUntil(timeout: 10) { (try? setup.daemon.nodeNames().contains(node)) == false })
        #expect(setup.bridge.isRunning)
        c.terminate()

        // Without the PipeWire daemon the bridge has nowhere to show anything: it says so and fails.
        setup.daemon.stop()
        let end = setup.bridge.waitForExit(timeout: 10)
        #expect(end == .exited(1), "\(setup.bridge.diagnostics())")
        #expect(setup.bridge.stderr.contains("the PipeWire daemon"))
    }

    @Test func aBufferPastTheNodeLimitIsLeftOutAndTheNodeThatExistsStreamsRGBx() throws {
        let setup = try Setup(bridgeArguments: ["--max-nodes", "1"])
        defer { setup.stop() }
        let consumer = try Self.buildConsumer(in: setup.runtime)
        let first = try setup.publish("160x120", format: "XBGR8888")
        defer { first.terminate() }
        let node = "porthole.guest.camera.1"
        try setup.bridgeSays("node \(node) made for buffer 1 (160x120 RGBx")
        let second = try setup.publish("160x120")
        defer { second.terminate() }
        try setup.bridgeSays("buffer 2 of guest/camera left out: 1 nodes already")
        #expect(try setup.daemon.nodeNames().filter { $0.hasPrefix("porthole.") } == [node])

        // The node that exists streams the first buffer's RGBx frames.
        let c = try setup.consumer(consumer, name: "rgbx", frames: 10, seconds: 20, node: node)
        let exit = c.waitForExit(timeout: 30)
        #expect(exit?.succeeded == true, "\(c.diagnostics())\n\(setup.bridge.diagnostics())")
        let seen = Self.frames(c.stdout)
        #expect(seen.count == 10 && seen.allSatisfy { $0.ok && $0.size == "160x120" }, "\(c.stdout)")
        #expect(setup.bridge.isRunning)

        // Without the host's buffer service the bridge has nothing to show: it says so and fails.
        setup.pair.host.terminate()
        let end = setup.bridge.waitForExit(timeout: 10)
        #expect(end == .exited(1), "\(setup.bridge.diagnostics())")
        #expect(setup.bridge.stderr.contains("the host's buffer service"))
    }
}
