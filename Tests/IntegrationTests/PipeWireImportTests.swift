import Foundation
import Glibc
import Harness
import SystemTestSupport
import Testing

/// `porthole pipewire import` against a real PipeWire daemon started here
/// (no session manager: pw-link joins GStreamer's pipewiresink to the
/// import's input): videotestsrc frames on the host reach a consumer of
/// the guest proxy (this test, through the guest's consumer socket), whose
/// pixels are the solid colour asked for, and a new size arrives as a new
/// buffer.
@Suite("PipeWire import with a real daemon", .serialized, .tags(.processes))
struct PipeWireImportTests {
    /// Frames of one buffer the consumer saw: its properties, every
    /// sequence, and whether every pixel had the colour.
    struct Seen {
        var properties: [String] = []
        var sequences: [UInt32] = []
        var wrongPixels = 0
    }

    /// Plays `frames` solid frames of `colour` (0xAARRGGBB) at width x
    /// height as BGRx through a pipewiresink node named `node`, linked to the import.
    static func play(_ daemon: PipeWireDaemon, runtime: RuntimeDir, node: String, colour: String, width: Int, height: Int, frames: Int) throws
        -> ManagedProcess {
        let gst = try ManagedProcess("gst-launch-1.0", ["-q", "videotestsrc", "pattern=solid-color", "foreground-color=\(colour)",
                                                        "num-buffers=\(frames)", "!",
                                                        "video/x-raw,format=BGRx,width=\(width),height=\(height),framerate=60/1", "!",
                                                        "pipewiresink", "stream-properties=props,node.name=\(node)"],
                                     environment: daemon.environment, logDirectory: runtime.path)
        try daemon.link("\(node):out_0", "porthole.import.camera:in_0")
        return gst
    }

    @Test func videotestsrcFramesOnTheHostReachAGuestConsumerWithTheirPixelsAndANewSizeIsANewBuffer() throws {
        let runtime = try RuntimeDir()
        let daemon = try PipeWireDaemon(runtime: runtime)
        defer { daemon.stop() }
        let (host, guest, producers, consumers) = try Porthole.startHostToGuestBuffers(runtime: runtime, application: "camera")
        defer { guest.terminate(); host.terminate() }
        let consumer = try BufferConsumerClient(socketPath: consumers, application: "camera")
        defer { consumer.close() }
        let bridge = try ManagedProcess(try portholeBinary(), ["pipewire", "import", "--target", "testsrc", "--app", "camera",
                                                               "--buffers-producer-socket", producers],
                                        environment: daemon.environment, logDirectory: runtime.path)
        defer { bridge.terminate() }

        // Receives until `done`, checking every frame against its buffer's colour (B, G, R bytes).
        var seen: [UInt32: Seen] = [:]
        var colours: [UInt32: [UInt8]] = [:]
        func receive(colour: [UInt8], timeout: Double = 20, until done: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(timeout)
            while !done() && Date() < deadline {
                for event in try consumer.events(waiting: .milliseconds(100)) {
                    switch event {
                    case .added(let id):
                        colours[id] = colour
                        seen[id] = Seen(properties: consumer.buffers[id]?.properties.map { "\($0.name)=\($0.value)" } ?? [])
                    case .updated(let id, let sequence, _, _):
                        guard let b = consumer.buffers[id], let expected = colours[id] else { continue }
                        seen[id, default: Seen()].sequences.append(sequence)
                        let bytes = UnsafeRawBufferPointer(b.bytes)
                        var wrong = 0
                        for p in stride(from: 0, to: bytes.count - 3, by: 4)
                        where bytes[p] != expected[0] || bytes[p + 1] != expected[1] || bytes[p + 2] != expected[2] { wrong += 1 }
                        seen[id]?.wrongPixels += wrong
                        try consumer.release(id, sequence: sequence)
                    default: break
                    }
                }
            }
        }

        let first = try Self.play(daemon, runtime: runtime, node: "testsrc", colour: "0xff336699", width: 320, height: 240, frames: 30)
        // PipeWire hands on the newest of the frames that queued up meanwhile: some may be
        // skipped, but every one presented (sequence = frame count) arrives, in order.
        try receive(colour: [0x99, 0x66, 0x33]) { !first.isRunning }
        try receive(colour: [0x99, 0x66, 0x33], timeout: 1) { false }
        #expect(first.waitForExit(timeout: 1)?.succeeded == true, "\(first.diagnostics())")
        let one = try #require(seen.first, "no buffer reached the guest\n\(bridge.diagnostics())\n\(host.diagnostics())")
        #expect(one.value.properties.sorted() == ["format=XRGB8888", "height=240", "stride=1280", "width=320"])
        let firstCount = one.value.sequences.count
        #expect(firstCount >= 10 && one.value.sequences == Array(1...UInt32(max(firstCount, 1))), "\(one.value.sequences)\n\(bridge.diagnostics())")
        #expect(one.value.wrongPixels == 0)

        // Another source at another size: the first buffer goes, a new one (a new id) comes.
        let second = try Self.play(daemon, runtime: runtime, node: "testsrc-small", colour: "0xff0a141e", width: 160, height: 120, frames: 10)
        try receive(colour: [0x1e, 0x14, 0x0a]) { !second.isRunning }
        try receive(colour: [0x1e, 0x14, 0x0a], timeout: 1) { false }
        #expect(second.waitForExit(timeout: 1)?.succeeded == true, "\(second.diagnostics())")
        let two = try #require(seen.first { $0.key != one.key }, "no second buffer\n\(bridge.diagnostics())")
        #expect(consumer.buffers[one.key] == nil || consumer.buffers[one.key]?.removed == true)
        #expect(two.value.properties.sorted() == ["format=XRGB8888", "height=120", "stride=640", "width=160"])
        let secondCount = two.value.sequences.count
        let total = UInt32(firstCount + secondCount)
        #expect(secondCount >= 4 && two.value.sequences == Array(UInt32(firstCount + 1)...max(total, UInt32(firstCount + 1))), "\(two.value.sequences)")
        #expect(two.value.wrongPixels == 0)

        // SIGTERM: a clean stop with the summary.
        let exit = bridge.terminate()
        #expect(exit.succeeded, "\(bridge.diagnostics())")
        #expect(bridge.stdout.contains("imported \(total) frames in 2 buffers, 0 not released in time, 0 refused"), "\(bridge.stdout)")
    }

    @Test func theImportEndsWithStatusOneWhenTheHostGoes() throws {
        let runtime = try RuntimeDir()
        let daemon = try PipeWireDaemon(runtime: runtime)
        defer { daemon.stop() }
        let producers = runtime.file("host-producers.sock")
        let host = try Porthole.startHost(runtime: runtime, link: .listen(LinkAddress.unix(in: runtime)), display: "wayland-none",
                                          extraArguments: ["--buffers-producer-socket", producers])
        try host.waitForListening()
        let bridge = try ManagedProcess(try portholeBinary(), ["pipewire", "import", "--target", "testsrc", "--app", "camera",
                                                               "--buffers-producer-socket", producers],
                                        environment: daemon.environment, logDirectory: runtime.path)
        defer { bridge.terminate() }
        let gst = try Self.play(daemon, runtime: runtime, node: "testsrc", colour: "0xff336699", width: 320, height: 240, frames: 600)
        defer { gst.terminate() }
        try #require(waitUntil(timeout: 20) { bridge.stdout.contains("published as camera") }, "\(bridge.diagnostics())")
        host.terminate()
        let exit = bridge.waitForExit(timeout: 10)
        #expect(exit == .exited(1), "\(bridge.diagnostics())")
        #expect(bridge.stderr.contains("the host's buffer service"), "\(bridge.stderr)")
    }

    @Test func theImportEndsWithStatusOneWhenThePipeWireDaemonGoes() throws {
        let runtime = try RuntimeDir()
        let daemon = try PipeWireDaemon(runtime: runtime)
        let producers = runtime.file("host-producers.sock")
        let host = try Porthole.startHost(runtime: runtime, link: .listen(LinkAddress.unix(in: runtime)), display: "wayland-none",
                                          extraArguments: ["--buffers-producer-socket", producers])
        defer { host.terminate() }
        try host.waitForListening()
        let bridge = try ManagedProcess(try portholeBinary(), ["pipewire", "import", "--target", "testsrc", "--app", "camera",
                                                               "--buffers-producer-socket", producers],
                                        environment: daemon.environment, logDirectory: runtime.path)
        defer { bridge.terminate() }
        try #require(waitUntil(timeout: 20) { bridge.stdout.contains("stream paused") }, "\(bridge.diagnostics())")
        daemon.stop()
        let exit = bridge.waitForExit(timeout: 10)
        #expect(exit == .exited(1), "\(bridge.diagnostics())")
        #expect(bridge.stderr.contains("the PipeWire daemon reported"), "\(bridge.stderr)")
    }
}
