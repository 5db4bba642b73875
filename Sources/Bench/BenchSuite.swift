import Foundation
import Glibc

/// `porthole bench --suite`: the matrix of issue 5 in one run, modes
/// alternating, with a report (markdown), the raw results (JSON) and a plot.
public enum BenchSuite {
    public struct Options: Sendable {
        public var quick: Bool
        public var waypipeCompressions: [WaypipeCompression]
        /// Where benchmarks.md/.json/.png go; nil writes nothing.
        public var outputDirectory: String?
        /// The command line, as the report quotes it.
        public var command: String
        public var portholePath: String

        public init(quick: Bool, waypipeCompressions: [WaypipeCompression], outputDirectory: String?, command: String,
                    portholePath: String = ProcFS.executablePath()) {
            self.quick = quick
            self.waypipeCompressions = waypipeCompressions
            self.outputDirectory = outputDirectory
            self.command = command
            self.portholePath = portholePath
        }
    }

    /// One cell of the matrix.
    public struct Case: Sendable {
        public var width: Int
        public var height: Int
        public var pattern: DamagePattern
        public var clients: Int
        public var sizeLabel: String { "\(width)x\(height)" }
        public var damageLabel: String { pattern == .full ? "full" : "\(pattern.rawValue) \(percent(pattern.defaultFraction))" }
    }

    /// One mode's run in one case: its result, or why it failed.
    public struct Outcome: Sendable {
        public var testCase: Case
        public var label: String
        public var result: BenchResult?
        public var error: String?
    }

    /// Measured frames per client for a size, and the time cap per run.
    static func frames(width: Int, clients: Int, quick: Bool) -> Int {
        if quick { return 10 }
        let base = width >= 3840 ? 160 : width >= 1920 ? 480 : 960
        return clients > 1 ? base / 4 : base
    }
    static let maxSeconds = 2.5
    /// Every case runs this many times (modes in a different order each
    /// time); the report keeps each mode's run with the highest fps.
    static let rounds = 2
    static let quickMaxSeconds = 1.0
    static let warmup = 2
    static let fullCheckInterval = 30

    public static func cases(quick: Bool) -> [Case] {
        let sizes = quick ? [(320, 240), (640, 360)] : [(1280, 720), (1920, 1080), (3840, 2160)]
        var out: [Case] = []
        for clients in [1, 8] {
            for (w, h) in sizes {
                for p in [DamagePattern.full, .band, .scattered] { out.append(Case(width: w, height: h, pattern: p, clients: clients)) }
            }
        }
        return out
    }

    /// The modes run in every case, as (mode, waypipe compression).
    /// Every mode; waypipe once per compression.
    static func modes(_ options: Options) -> [(BenchMode, WaypipeCompression)] {
        var out: [(BenchMode, WaypipeCompression)] = []
        for m in BenchMode.allCases {
            if m == .waypipe {
                for c in options.waypipeCompressions { out.append((.waypipe, c)) }
            } else {
                out.append((m, .none))
            }
        }
        return out
    }

    public static func run(_ options: Options, log: (String) -> Void) throws {
        let facts = MachineFacts.read(portholePath: options.portholePath)
        let cases = cases(quick: options.quick)
        let modes = modes(options)
        let started = Date()
        let machineBefore = ProcFS.machineCPU()
        let ownBefore = ProcFS.ownCPUSeconds()
        let loadBefore = ProcFS.loadAverage()
        log("porthole bench --suite: \(cases.count) cases x \(modes.count) modes on \(facts.cpuModel), \(facts.cores) cores")
        var outcomes: [Outcome] = []
        let rounds = options.quick ? 1 : Self.rounds
        for round in 0..<rounds {
          for (i, c) in cases.enumerated() {
            // Alternate: each case starts with a different mode, and each round
            // runs the modes in the opposite order.
            var order = (0..<modes.count).map { modes[($0 + i) % modes.count] }
            if round % 2 == 1 { order.reverse() }
            for (mode, compression) in order {
                var config = BenchConfig(mode: mode)
                config.width = c.width
                config.height = c.height
                config.pattern = c.pattern
                config.clients = c.clients
                config.frames = frames(width: c.width, clients: c.clients, quick: options.quick)
                config.warmup = warmup
                config.fullCheckInterval = fullCheckInterval
                config.maxSeconds = options.quick ? quickMaxSeconds : maxSeconds
                config.waypipeCompression = compression
                config.portholePath = options.portholePath
                let head = "[\(round + 1).\(i + 1)/\(cases.count)] \(c.sizeLabel) \(c.damageLabel) x\(c.clients) \(config.modeLabel)"
                do {
                    let r = try BenchRunner.run(config)
                    outcomes.append(Outcome(testCase: c, label: config.modeLabel, result: r, error: nil))
                    let lat = r.latencyP99.map { String(format: "%.2f", $0 * 1000) } ?? "n/a"
                    log("\(head): \(Format.fps(r.fps)) fps, p99 \(lat) ms, \(r.verifiedFrames)/\(r.frames) verified" + (r.passed ? "" : " — WRONG FRAMES: \(r.failures.first ?? "")"))
                } catch {
                    let text = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
                    outcomes.append(Outcome(testCase: c, label: config.modeLabel, result: nil, error: text))
                    log("\(head): FAILED: \(text)")
                }
            }
          }
        }
        let elapsed = Date().timeIntervalSince(started)
        let machineAfter = ProcFS.machineCPU()
        let own = ProcFS.ownCPUSeconds() - ownBefore
        let busy = machineAfter.busy - machineBefore.busy
        let capacity = machineAfter.total - machineBefore.total
        let load = LoadReport(seconds: elapsed, machineBusy: busy, capacity: capacity, ownBusy: own,
                              loadBefore: loadBefore, loadAfter: ProcFS.loadAverage())
        let report = SuiteReport(options: options, facts: facts, outcomes: outcomes, labels: modes.map { m in
            m.0 == .waypipe && m.1 != .none ? "waypipe-\(m.1.rawValue)" : m.0.rawValue
        }, load: load, date: started, framesNote: framesNote(options))
        log("")
        log(report.summaryText)
        log(load.sentence)
        if let dir = options.outputDirectory {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try report.writeJSON(to: "\(dir)/benchmarks.json")
            let plotted = report.writePlot(png: "\(dir)/benchmarks.png")
            try report.writeMarkdown(to: "\(dir)/benchmarks.md", plotWritten: plotted)
            log("wrote \(dir)/benchmarks.md, \(dir)/benchmarks.json" + (plotted ? ", \(dir)/benchmarks.png" : " (no plot: gnuplot not found)"))
        }
    }

    static func framesNote(_ options: Options) -> String {
        if options.quick { return "quick run: 10 frames per client, at most \(quickMaxSeconds) s per run" }
        return """
            at most 960 measured frames per client at 1280x720, 480 at 1920x1080 and 160 at 3840x2160 with 1 client, \
            a quarter of that with 8 clients, and at most \(maxSeconds) s of measuring per run \
            (the `frames` column says how many were measured), after \(warmup) warm-up frames per client. \
            The sink compares every row of every \(fullCheckInterval)th frame and sampled rows of the others. \
            Every case ran \(rounds) times, the modes in a different order each time; the tables show, for each mode, \
            its run with the higher fps (all runs are in benchmarks.json)
            """
    }
}

/// How busy the machine was besides the suite.
struct LoadReport {
    var seconds: Double
    var machineBusy: Double
    var capacity: Double
    var ownBusy: Double
    var loadBefore: Double
    var loadAfter: Double

    /// CPU seconds used by processes other than the suite and its children.
    var otherBusy: Double { max(0, machineBusy - ownBusy) }

    var sentence: String {
        String(format: "The suite took %.0f s. The machine's %.0f CPU-seconds were %.0f%% busy: %.0f CPU-s the suite (bench, proxies, waypipe), %.0f CPU-s (%.0f%% of the machine) other processes. Load average %.2f before, %.2f after.",
               seconds, capacity, capacity > 0 ? machineBusy / capacity * 100 : 0, ownBusy, otherBusy,
               capacity > 0 ? otherBusy / capacity * 100 : 0, loadBefore, loadAfter)
    }
}
