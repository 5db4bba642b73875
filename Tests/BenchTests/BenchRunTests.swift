import Bench
import Foundation
import SystemTestSupport
import Testing

/// Whole runs in-process: real clients, the real sink.
@Suite struct BenchRunTests {
    @Test(arguments: [DamagePattern.full, .band, .scattered])
    func directRunsDeliverEveryFrameVerified(pattern: DamagePattern) throws {
        var config = BenchConfig(mode: .direct)
        config.width = 320
        config.height = 200
        config.pattern = pattern
        config.fraction = pattern == .scattered ? 0.05 : nil
        config.clients = 2
        config.frames = 40
        config.fullCheckInterval = 7
        let result = try BenchRunner.run(config)
        #expect(result.failures.isEmpty)
        #expect(result.frames == 80)
        #expect(result.verifiedFrames == 80)
        #expect(result.fullyCheckedFrames >= 10)
        #expect(result.passed)
        #expect(result.latencyP50 != nil && result.latencyP99! >= result.latencyP50!)
        let interval = try #require(result.frameIntervalP50)
        #expect(interval > 0 && interval <= result.seconds)
        #expect(result.cpuSecondsPerFrame == nil && result.linkBytesPerFrame == nil, "direct mode has no proxies")
        let json = try JSONSerialization.jsonObject(with: Data(result.json.utf8)) as? [String: Any]
        for key in ["fps", "latency_p50_ms", "latency_p99_ms", "frame_interval_p50_ms", "cpu_seconds_per_frame", "link_bytes_per_frame",
                    "copied_bytes_per_frame", "peak_rss_bytes", "frames", "verified_frames"] {
            #expect(json?.keys.contains(key) == true, "JSON lacks \(key)")
        }
    }

    /// 20 frames of a 256x160 band through the real proxies in `mode`, all delivered and verified.
    static func bandRun(_ mode: BenchMode, sourceLocation: SourceLocation = #_sourceLocation) throws -> BenchResult {
        try verifiedRun(mode, pattern: .band, sourceLocation: sourceLocation)
    }

    /// 20 frames of 256x160 in `mode`, every one expected delivered and verified.
    static func verifiedRun(_ mode: BenchMode, pattern: DamagePattern, fraction: Double? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) throws -> BenchResult {
        var config = BenchConfig(mode: mode)
        config.portholePath = try portholeBinary()
        config.width = 256
        config.height = 160
        config.pattern = pattern
        if let fraction { config.fraction = fraction }
        config.frames = 20
        config.fullCheckInterval = 5
        let result = try BenchRunner.run(config)
        #expect(result.failures.isEmpty, sourceLocation: sourceLocation)
        #expect(result.passed && result.frames == 20, sourceLocation: sourceLocation)
        return result
    }

    static func portholeBinary() throws -> String {
        let fromEnv = ProcessInfo.processInfo.environment["PORTHOLE_BIN"].flatMap { $0.isEmpty ? nil : $0 }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = fromEnv ?? root.appendingPathComponent(".build/debug/porthole").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BenchTestError("porthole binary not found at \(path): run swift build (scripts/test does) or set PORTHOLE_BIN")
        }
        return path
    }
}

struct BenchTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Whole runs through the porthole binary (and waypipe): these start
/// processes. Suites whose name ends in ProcessTests are skipped by the fast
/// tier (README, Testing).
@Suite(.tags(.processes)) struct BenchRunProcessTests {
    /// Through the real proxies: $PORTHOLE_BIN (scripts/test sets it), else the package's debug build.
    @Test func streamModeDeliversVerifiedFramesAndCountsTheLink() throws {
        let result = try BenchRunTests.bandRun(.stream)
        // The client has two buffers, so a buffer's bytes change by two frames'
        // damage between its uses: two bands, half of 256x160x4 bytes per frame,
        // plus framing and protocol, and not much more.
        let link = try #require(result.linkBytesPerFrame)
        #expect(link >= 81_920 && link < 81_920 * 1.25, "\(link) link bytes per frame")
        #expect(result.copiedBytesPerFrame != nil && result.cpuSecondsPerFrame != nil && result.peakRSSBytes != nil)
    }

    /// Two guest proxies on one host proxy (as two VMs): two clients each
    /// through its own guest and link, every frame verified, both guests'
    /// counters in the total.
    @Test func streamModeWithTwoGuestsDeliversEveryClientsFramesThroughItsOwnLink() throws {
        var config = BenchConfig(mode: .stream)
        config.portholePath = try BenchRunTests.portholeBinary()
        config.width = 256
        config.height = 160
        config.pattern = .band
        config.clients = 2
        config.guests = 2
        config.frames = 20
        config.fullCheckInterval = 5
        let result = try BenchRunner.run(config)
        #expect(result.failures.isEmpty)
        #expect(result.passed && result.frames == 40)
        #expect(result.config.modeLabel == "stream/2-guests")
        // As with one guest: two bands' bytes a frame (and a little protocol),
        // now over two links.
        let link = try #require(result.linkBytesPerFrame)
        #expect(link >= 81_920 && link < 81_920 * 1.25, "\(link) link bytes per frame")
    }

    /// Region mode: verified frames, link bytes are protocol only (tens of
    /// bytes a frame), while the guest still copies the changed bytes.
    /// Cooperative mode: verified frames and no copies at all.
    @Test(arguments: [BenchMode.region, .cooperative])
    func sharedModesDeliverVerifiedFramesWithoutPixelsOnTheLink(mode: BenchMode) throws {
        let result = try BenchRunTests.bandRun(mode)
        let link = try #require(result.linkBytesPerFrame)
        #expect(link < 2_000, "\(link) link bytes per frame: pixels crossed the link")
        let copied = try #require(result.copiedBytesPerFrame)
        if mode == .cooperative {
            #expect(copied == 0, "\(copied) bytes copied per frame")
        } else {
            // At least the changed bytes (two bands, half the buffer) and at
            // most the damaged ones (a new attachment damages the whole
            // buffer; after mostly-changed commits the guest copies damaged
            // bytes without comparing).
            #expect(copied >= 81_920 && copied <= 163_840, "\(copied) bytes copied per frame")
        }
    }

    /// waypipe is installed by scripts/deps; a missing one fails here.
    @Test func waypipeModeDeliversVerifiedFrames() throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/waypipe"), "waypipe missing: run scripts/deps")
        let result = try BenchRunTests.verifiedRun(.waypipe, pattern: .scattered, fraction: 0.05)
        #expect(result.linkBytesPerFrame != nil && result.copiedBytesPerFrame == nil)
    }
}
