import Foundation
import Glibc
import Harness

/// One benchmark run: one mode, one compositor, one client layout.
public struct BenchConfig: Sendable {
    public var mode: BenchMode
    public var compositor: BenchCompositor = .sink
    public var width: Int = 1920
    public var height: Int = 1080
    public var pattern: DamagePattern = .full
    /// Damage fraction; nil takes the pattern's default.
    public var fraction: Double?
    public var clients: Int = 1
    /// Clients of different sizes and patterns through one proxy pair (a
    /// mixed run); when not empty it replaces width, height, pattern and
    /// clients, and every client stops as soon as one has drawn its frames
    /// (or the time is up), so all measured frames had all neighbours.
    public var mix: [ClientSpec] = []
    /// Measured frames per client.
    public var frames: Int = 120
    /// Frames per client drawn before measuring (frame 0 always repaints everything).
    public var warmup: Int = 3
    /// The sink compares every row of every this-many-th frame.
    public var fullCheckInterval: Int = 30
    /// Stop measuring after this many seconds even if frames remain.
    public var maxSeconds: Double?
    public var waypipeCompression: WaypipeCompression = .none
    /// The porthole executable for the proxies.
    public var portholePath: String = ProcFS.executablePath()
    /// Guest proxies (stream mode): each its own link to the one host proxy,
    /// as several VMs have; client i connects to guest i % guests.
    public var guests: Int = 1
    /// Where each measured frame's commit and arrival times are appended
    /// (`FrameLog`); sink compositor only.
    public var frameLog: String?

    public init(mode: BenchMode) { self.mode = mode }

    public var damageFraction: Double { pattern == .full ? 1 : (fraction ?? pattern.defaultFraction) }
    public var plan: DamagePlan { DamagePlan(pattern: pattern, fraction: damageFraction, width: width, height: height) }

    /// Every client's window, in client order.
    public var clientSpecs: [ClientSpec] {
        mix.isEmpty ? Array(repeating: ClientSpec(width: width, height: height, pattern: pattern, fraction: fraction), count: clients) : mix
    }
    public var clientCount: Int { mix.isEmpty ? clients : mix.count }
    public var isMixed: Bool { !mix.isEmpty }
    /// "3840x2160:full + 1280x720:typing" for a mix, else "WxH".
    public var layoutLabel: String { mix.isEmpty ? "\(width)x\(height)" : mix.map(\.description).joined(separator: " + ") }

    /// "waypipe" or "waypipe-lz4" (compressed), else the mode's name.
    public var modeLabel: String {
        if mode == .waypipe && waypipeCompression != .none { return "waypipe-\(waypipeCompression.rawValue)" }
        return guests > 1 ? "\(mode.rawValue)/\(guests)-guests" : mode.rawValue
    }
}

/// What one run measured. Optional values are n/a: not measurable in that
/// mode (no proxies in direct mode, no counters in waypipe, no pixel access
/// in weston).
public struct BenchResult: Sendable {
    public var config: BenchConfig
    /// Measured frames that reached the compositor, all clients.
    public var frames: Int
    /// Of those, the frames whose pixels were checked and right (sink), or
    /// whose frame callback came (weston: counted only).
    public var verifiedFrames: Int
    /// Frames (warm-up included) whose pixels were wrong.
    public var failedFrames: Int
    /// The first few failures, described.
    public var failures: [String]
    /// Frames the sink compared row by row in full.
    public var fullyCheckedFrames: Int
    /// Measurement time in seconds.
    public var seconds: Double
    public var latencyP50: Double?
    public var latencyP99: Double?
    public var cpuSecondsPerFrame: Double?
    public var linkBytesPerFrame: Double?
    public var copiedBytesPerFrame: Double?
    public var peakRSSBytes: UInt64?
    /// waypipe: server-written minus client-read link bytes, as a share of the link bytes.
    public var linkCountingError: Double?
    /// Frames that waited for a buffer release.
    public var framesWaitingForRelease: Int
    /// Each client's own frames and latency (sink only; empty with weston).
    public var perClient: [ClientResult] = []
    /// The median time from one commit of a client to its next, over the
    /// measured frames of all clients (sink only). Unlike 1 / fps it leaves
    /// out the slow frames of a busy moment of the machine: beside `fps` it
    /// tells a proxy's cost per frame from the machine's noise.
    public var frameIntervalP50: Double?

    public var fps: Double { seconds > 0 ? Double(frames) / seconds : 0 }
    public var fpsPerClient: Double { fps / Double(max(config.clientCount, 1)) }
    public var verification: String { config.compositor == .sink ? "pixels" : "frame_count" }
    public var passed: Bool { failedFrames == 0 && verifiedFrames == frames }

    /// The result as one JSON object (n/a as null).
    public var json: String {
        func num(_ v: Double?) -> String {
            guard let v, v.isFinite else { return "null" }
            return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.6g", v)
        }
        func str(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
                default: out.unicodeScalars.append(u)
                }
            }
            return out + "\""
        }
        let plan = config.plan
        let fields: [(String, String)] = [
            ("mode", str(config.mode.rawValue)),
            ("waypipe_compress", config.mode == .waypipe ? str(config.waypipeCompression.rawValue) : "null"),
            ("compositor", str(config.compositor.rawValue)),
            ("size", str(config.layoutLabel)),
            ("pattern", str(config.pattern.rawValue)),
            ("damage", num(config.damageFraction)),
            ("damage_measured", num(plan.measuredFraction)),
            ("rects_per_frame", num(Double(plan.rectanglesPerFrame))),
            ("clients", num(Double(config.clientCount))),
            ("frames", num(Double(frames))),
            ("verified_frames", num(Double(verifiedFrames))),
            ("failed_frames", num(Double(failedFrames))),
            ("fully_checked_frames", config.compositor == .sink ? num(Double(fullyCheckedFrames)) : "null"),
            ("verification", str(verification)),
            ("seconds", num(seconds)),
            ("fps", num(fps)),
            ("fps_per_client", num(fpsPerClient)),
            ("latency_p50_ms", num(latencyP50.map { $0 * 1000 })),
            ("latency_p99_ms", num(latencyP99.map { $0 * 1000 })),
            ("frame_interval_p50_ms", num(frameIntervalP50.map { $0 * 1000 })),
            ("cpu_seconds_per_frame", num(cpuSecondsPerFrame)),
            ("link_bytes_per_frame", num(linkBytesPerFrame)),
            ("copied_bytes_per_frame", num(copiedBytesPerFrame)),
            ("peak_rss_bytes", num(peakRSSBytes.map { Double($0) })),
            ("waypipe_link_count_mismatch", num(linkCountingError)),
            ("frames_waiting_for_release", num(Double(framesWaitingForRelease))),
            ("failures", "[" + failures.map(str).joined(separator: ", ") + "]"),
            ("per_client", "[" + perClient.map { c in
                "{\"client\": \(str(c.spec.description)), \"frames\": \(c.frames), \"fps\": \(num(c.fps)), " +
                "\"latency_p50_ms\": \(num(c.latencyP50.map { $0 * 1000 })), \"latency_p99_ms\": \(num(c.latencyP99.map { $0 * 1000 }))}"
            }.joined(separator: ", ") + "]"),
        ]
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }
}

/// Commit and arrival times of every frame, and what the sink's checks found.
/// Shared by the client threads and the sink thread.
final class FrameLedger: @unchecked Sendable {
    private let lock = NSLock()
    private var committed: [[UInt64]]
    private var arrived: [[UInt64]]
    private var verified: [[Bool]]
    private var failures: [String] = []
    private var failed = 0
    private var fullChecks = 0
    let framesPerClient: Int

    init(clients: Int, framesPerClient: Int) {
        self.framesPerClient = framesPerClient
        committed = Array(repeating: Array(repeating: 0, count: framesPerClient), count: clients)
        arrived = committed
        verified = Array(repeating: Array(repeating: false, count: framesPerClient), count: clients)
    }

    func commit(client: Int, frame: Int, at time: UInt64) {
        lock.lock(); defer { lock.unlock() }
        committed[client][frame] = time
    }

    func arrive(client: Int, frame: Int, at time: UInt64, outcome: FrameVerifier.Outcome) {
        lock.lock(); defer { lock.unlock() }
        arrived[client][frame] = time
        switch outcome {
        case .ok(_, let full):
            verified[client][frame] = true
            if full { fullChecks += 1 }
        case .mismatch(let text):
            noteFailure("client \(client): \(text)")
        }
    }

    /// Records a frame that could not be accepted.
    func fail(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        noteFailure(text)
    }

    private func noteFailure(_ text: String) {
        failed += 1
        if failures.count < 5 { failures.append(text) }
    }

    /// The failure count and first failures, read under the lock.
    var failureReport: (count: Int, first: [String], fullChecks: Int) {
        lock.lock(); defer { lock.unlock() }
        return (failed, failures, fullChecks)
    }

    /// The times in seconds from each commit to the same client's next,
    /// over frames `range` of every client.
    func commitIntervals(frames range: Range<Int>) -> [Double] {
        lock.lock(); defer { lock.unlock() }
        var out: [Double] = []
        for c in committed.indices {
            for k in range.dropFirst() where k < framesPerClient {
                let a = committed[c][k - 1], b = committed[c][k]
                if a != 0 && b > a { out.append(Double(b - a) / 1e9) }
            }
        }
        return out
    }

    /// Every client's frames `range`, with their commit and arrival times.
    func rows(frames range: Range<Int>) -> [FrameLog.Row] {
        lock.lock(); defer { lock.unlock() }
        var out: [FrameLog.Row] = []
        for c in committed.indices {
            for k in range where k < framesPerClient && committed[c][k] != 0 {
                out.append(FrameLog.Row(client: c, frame: k, committed: committed[c][k], arrived: arrived[c][k]))
            }
        }
        return out
    }

    /// (arrived, verified, latencies in seconds) over frames `range` of every
    /// client, or of client `only`.
    func summary(frames range: Range<Int>, only: Int? = nil) -> (arrived: Int, verified: Int, latencies: [Double]) {
        lock.lock(); defer { lock.unlock() }
        var a = 0, v = 0
        var lat: [Double] = []
        for c in committed.indices where only == nil || only == c {
            for k in range where k < framesPerClient && arrived[c][k] != 0 {
                a += 1
                if verified[c][k] { v += 1 }
                if committed[c][k] != 0 && arrived[c][k] >= committed[c][k] { lat.append(Double(arrived[c][k] - committed[c][k]) / 1e9) }
            }
        }
        return (a, v, lat)
    }
}

/// The value at quantile `q` (0...1) of `values`, nearest rank; nil if empty.
public func quantile(_ values: [Double], _ q: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// The median of `values`: the middle one, or the mean of the two middle
/// ones for an even count (never the lower one alone: with two rounds that
/// would report the better round as the median); nil if empty.
public func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let half = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2
}

/// One client's share of a run.
public struct ClientResult: Sendable {
    public var spec: ClientSpec
    /// Its measured frames that arrived.
    public var frames: Int
    /// Its own frames over its own measuring time.
    public var fps: Double
    public var latencyP50: Double?
    public var latencyP99: Double?
}
