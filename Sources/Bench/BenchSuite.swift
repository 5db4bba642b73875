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

    /// One cell of the matrix, or a mixed case (several windows of
    /// different kinds through one proxy pair).
    public struct Case: Sendable {
        public var width: Int
        public var height: Int
        public var pattern: DamagePattern
        public var clients: Int
        /// The windows of a mixed case (empty for a matrix cell).
        public var mix: [ClientSpec] = []
        /// A mixed case's guest proxies, one host (stream mode only): each
        /// window in a VM of its own.
        public var guests = 1
        public var isMixed: Bool { !mix.isEmpty }
        public var sizeLabel: String { isMixed ? mix.map(\.description).joined(separator: " + ") : "\(width)x\(height)" }
        public var damageLabel: String {
            isMixed ? (guests > 1 ? "mixed, \(guests) VMs" : "mixed")
                : pattern == .full ? "full" : pattern == .typing ? "typing" : "\(pattern.rawValue) \(percent(pattern.defaultFraction))"
        }
    }

    /// One mode's run in one case: its result, or why it failed.
    public struct Outcome: Sendable {
        public var testCase: Case
        public var label: String
        public var result: BenchResult?
        public var error: String?
        /// The round it ran in (0-based; rounds past `rounds` are repeats).
        public var round: Int = 0
        /// A mixed case's runs of each client alone (`result` is the mix).
        public var alone: [BenchResult] = []
    }

    /// Measured frames per client for a size, and the time cap per run.
    static func frames(width: Int, clients: Int, pattern: DamagePattern = .full, quick: Bool) -> Int {
        if quick { return 10 }
        if pattern == .typing { return clients > 1 ? typingFrames / 4 : typingFrames }
        let base = width >= 3840 ? 120 : width >= 1920 ? 240 : 480
        return clients > 1 ? base / 4 : base
    }
    /// Typing frames cost almost nothing, and their p99 is what the typing
    /// targets compare: over 960 frames (8 clients x 120) it is the 10th
    /// slowest frame, and direct mode's own p99 moved by 1-2 ms between
    /// runs, more than the 0.3 ms the target allows (docs/benchmarks.md,
    /// "Typing p99 over more frames").
    /// `maxSeconds` still bounds each run.
    static let typingFrames = 4000
    static let maxSeconds = 1.0
    /// Measured frames per client in a mixed run (the time bounds it).
    static let mixedFrames = 20_000
    /// 100 s of repeats: a case's round takes 10-20 s (six modes), and the
    /// typing cases' p99 repeats come on top of the fps-ratio repeats, which
    /// alone took the old 40 s in most suites of a noisy day.
    static let repeatRule = RepeatRule(budgetSeconds: 100)
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
                // Typing where text is typed: not in a 4K video's window.
                if w < 3840 { out.append(Case(width: w, height: h, pattern: .typing, clients: clients)) }
            }
        }
        // A desktop: a 4K video beside a text editor. First the worst case,
        // the video drawing as fast as frame callbacks allow; then a video
        // at 60 frames a second, as one plays.
        let (video, editor) = quick ? (ClientSpec(width: 640, height: 360, pattern: .full), ClientSpec(width: 320, height: 240, pattern: .typing))
                                    : (ClientSpec(width: 3840, height: 2160, pattern: .full), ClientSpec(width: 1280, height: 720, pattern: .typing))
        var paced = video
        paced.rate = 60
        for mix in [[video, editor], [paced, editor]] {
            out.append(Case(width: mix[0].width, height: mix[0].height, pattern: .full, clients: mix.count, mix: mix))
        }
        // Two VMs on one host: the video in one, the editor in the other.
        // One guest must not slow another down.
        out.append(Case(width: video.width, height: video.height, pattern: .full, clients: 2, mix: [video, editor], guests: 2))
        return out
    }

    /// The modes a mixed case runs in: porthole's and direct (waypipe's
    /// single loop is not what it measures); with several VMs, stream mode
    /// (the others have no link between guest and host to share).
    static let mixedModes: Set<BenchMode> = [.direct, .stream, .region, .cooperative]
    static func runs(_ mode: BenchMode, in c: Case) -> Bool {
        !c.isMixed || (c.guests > 1 ? mode == .stream : mixedModes.contains(mode))
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
        let idleSeconds = options.quick ? 0.5 : 3
        // Before anything of ours runs: how much of the machine is left to us.
        let idleBefore = ProcFS.idleShare(over: idleSeconds)
        let memcpyBefore = MemcpyProbe.measure()
        let started = Date()
        let machineBefore = ProcFS.machineCPU()
        let ownBefore = ProcFS.ownCPUSeconds()
        let loadBefore = ProcFS.loadAverage()
        log("porthole bench --suite: \(cases.count) cases x \(modes.count) modes on \(facts.cpuModel), \(facts.cores) cores; "
            + String(format: "idle %.0f%% over %.0f s before; ", idleBefore * 100, idleSeconds) + memcpyBefore.sentence)
        var outcomes: [Outcome] = []
        let rounds = options.quick ? 1 : Self.rounds
        func runCase(_ i: Int, _ c: Case, round: Int) {
            // Alternate: each case starts with a different mode, and each round
            // runs the modes in the opposite order.
            var order = (0..<modes.count).map { modes[($0 + i) % modes.count] }
            if round % 2 == 1 { order.reverse() }
            for (mode, compression) in order where runs(mode, in: c) {
                let config = configuration(c, mode: mode, compression: compression, options: options)
                let head = "[\(round + 1).\(i + 1)/\(cases.count)] \(c.sizeLabel) \(c.damageLabel) x\(c.clients) \(config.modeLabel)"
                do {
                    var outcome = Outcome(testCase: c, label: config.modeLabel, result: nil, error: nil, round: round)
                    if c.isMixed {
                        let m = try MixedComparison.run(config)
                        outcome.result = m.mixed
                        outcome.alone = m.alone
                        let each = m.mixed.perClient.indices.map { k in
                            "\(m.mixed.perClient[k].spec): p99 \(Format.ms(m.mixed.perClient[k].latencyP99)) ms (alone \(Format.ms(m.alone[k].latencyP99)))"
                        }
                        log("\(head): " + each.joined(separator: ", ") + (m.passed ? ", all verified" : " — WRONG FRAMES"))
                    } else {
                        let r = try BenchRunner.run(config)
                        outcome.result = r
                        log("\(head): \(Format.fps(r.fps)) fps, p99 \(Format.ms(r.latencyP99)) ms, \(r.verifiedFrames)/\(r.frames) verified" + (r.passed ? "" : " — WRONG FRAMES: \(r.failures.first ?? "")"))
                    }
                    outcomes.append(outcome)
                } catch {
                    let text = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
                    outcomes.append(Outcome(testCase: c, label: config.modeLabel, result: nil, error: text, round: round))
                    log("\(head): FAILED: \(text)")
                }
            }
        }
        for round in 0..<rounds {
            for (i, c) in cases.enumerated() { runCase(i, c, round: round) }
        }
        // Cases whose ratios moved across rounds run again (bounded).
        var repeated: [String: Int] = [:]
        if !options.quick {
            var extra = Array(repeating: 0, count: cases.count)
            let repeatsStarted = Date()
            while let i = repeatRule.next(cases.indices.map { (disagreement(cases[$0], outcomes), extra[$0]) },
                                          spentSeconds: Date().timeIntervalSince(repeatsStarted)) {
                let c = cases[i]
                let d = disagreement(c, outcomes)
                log("\(c.sizeLabel) \(c.damageLabel) x\(c.clients): ratios spread \(Int((min(d.ratioSpread, 99) * 100).rounded()))%"
                    + (c.pattern == .typing && !c.isMixed ? ", p99 − direct's over \(Format.ms(min(d.latencyRange, 99))) ms" : "")
                    + " across rounds; once more")
                runCase(i, c, round: rounds + extra[i])
                extra[i] += 1
                repeated[SuiteReport.key(c)] = extra[i]
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        let machineAfter = ProcFS.machineCPU()
        let own = ProcFS.ownCPUSeconds() - ownBefore
        let busy = machineAfter.busy - machineBefore.busy
        let capacity = machineAfter.total - machineBefore.total
        let loadAfter = ProcFS.loadAverage()
        let memcpyAfter = MemcpyProbe.measure()
        let idleAfter = ProcFS.idleShare(over: idleSeconds)
        let load = LoadReport(seconds: elapsed, machineBusy: busy, capacity: capacity, ownBusy: own,
                              loadBefore: loadBefore, loadAfter: loadAfter, idleBefore: idleBefore, idleAfter: idleAfter,
                              idleSeconds: idleSeconds)
        let report = SuiteReport(options: options, facts: facts, outcomes: outcomes, labels: modes.map { m in
            m.0 == .waypipe && m.1 != .none ? "waypipe-\(m.1.rawValue)" : m.0.rawValue
        }, load: load, date: started, framesNote: framesNote(options), memcpy: [memcpyBefore, memcpyAfter], repeated: repeated)
        log("")
        log(report.summaryText)
        log(report.mixedText)
        log(load.sentence)
        log("before: \(memcpyBefore.sentence); after: \(memcpyAfter.sentence)")
        if let dir = options.outputDirectory {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try report.writeJSON(to: "\(dir)/benchmarks.json")
            let plotted = report.writePlot(png: "\(dir)/benchmarks.png")
            try report.writeMarkdown(to: "\(dir)/benchmarks.md", plotWritten: plotted)
            log("wrote \(dir)/benchmarks.md, \(dir)/benchmarks.json" + (plotted ? ", \(dir)/benchmarks.png" : " (no plot: gnuplot not found)"))
        }
    }

    /// The run of `mode` in case `c`.
    static func configuration(_ c: Case, mode: BenchMode, compression: WaypipeCompression, options: Options) -> BenchConfig {
        var config = BenchConfig(mode: mode)
        config.width = c.width
        config.height = c.height
        config.pattern = c.pattern
        config.clients = c.clients
        config.mix = c.mix
        config.guests = c.guests
        config.frames = c.isMixed ? (options.quick ? 20 : mixedFrames) : frames(width: c.width, clients: c.clients, pattern: c.pattern, quick: options.quick)
        config.warmup = warmup
        config.fullCheckInterval = fullCheckInterval
        config.maxSeconds = options.quick ? quickMaxSeconds : maxSeconds
        config.waypipeCompression = compression
        config.portholePath = options.portholePath
        return config
    }

    /// The ratios the repeat rule watches in case `c`, one value per round:
    /// each mode's fps over direct's (matrix cells), each client's fps
    /// beside its neighbours over its fps alone (mixed cases).
    static func roundRatios(_ c: Case, _ outcomes: [Outcome]) -> [String: [Double]] {
        let mine = outcomes.filter { SuiteReport.key($0.testCase) == SuiteReport.key(c) }
        var out: [String: [Double]] = [:]
        for round in Set(mine.map(\.round)).sorted() {
            let runs = mine.filter { $0.round == round }
            if c.isMixed {
                // A failed run is no measurement of the load: it is left out.
                for o in runs {
                    guard let r = o.result else { continue }
                    for (k, client) in r.perClient.enumerated() where k < o.alone.count {
                        let alone = o.alone[k].perClient.first?.fps ?? 0
                        out["\(o.label) \(client.spec)", default: []].append(alone > 0 ? client.fps / alone : 0)
                    }
                }
            } else {
                let direct = runs.first { $0.label == BenchMode.direct.rawValue }?.result?.fps ?? 0
                guard direct > 0 else { continue }
                for o in runs where o.label != BenchMode.direct.rawValue {
                    guard let fps = o.result?.fps else { continue }
                    out[o.label, default: []].append(fps / direct)
                }
            }
        }
        return out
    }

    /// The p99 differences the typing target judges in case `c`, one value
    /// per round: region's and cooperative's p99 minus direct's p99 of the
    /// same round (runs moments apart, so the machine's load is the same
    /// for both; empty for other patterns).
    static func roundP99Differences(_ c: Case, _ outcomes: [Outcome]) -> [String: [Double]] {
        guard c.pattern == .typing, !c.isMixed else { return [:] }
        let mine = outcomes.filter { SuiteReport.key($0.testCase) == SuiteReport.key(c) }
        var out: [String: [Double]] = [:]
        for round in Set(mine.map(\.round)).sorted() {
            let runs = mine.filter { $0.round == round }
            guard let direct = runs.first(where: { $0.label == BenchMode.direct.rawValue })?.result?.latencyP99 else { continue }
            for label in typingTargetModes.map(\.rawValue) {
                guard let p99 = runs.first(where: { $0.label == label })?.result?.latencyP99 else { continue }
                out[label, default: []].append(p99 - direct)
            }
        }
        return out
    }

    /// The modes whose typing p99 is held to direct's.
    static let typingTargetModes: [BenchMode] = [.region, .cooperative]

    /// How far case `c`'s rounds disagree so far.
    static func disagreement(_ c: Case, _ outcomes: [Outcome]) -> RepeatRule.Disagreement {
        RepeatRule.Disagreement(ratioSpread: RepeatRule.largestSpread(roundRatios(c, outcomes)),
                                latencyRange: RepeatRule.widestRange(roundP99Differences(c, outcomes)))
    }

    static func framesNote(_ options: Options) -> String {
        if options.quick { return "quick run: 10 frames per client, at most \(quickMaxSeconds) s per run" }
        return """
            at most \(frames(width: 1280, clients: 1, quick: false)) measured frames per client at 1280x720, \
            \(frames(width: 1920, clients: 1, quick: false)) at 1920x1080 and \(frames(width: 3840, clients: 1, quick: false)) at 3840x2160 with 1 client, \
            a quarter of that with 8 clients (typing: \(typingFrames) with 1 client, \(typingFrames / 4) each with 8), and at most \(maxSeconds) s of measuring per run \
            (the `frames` column says how many were measured), after \(warmup) warm-up frames per client; \
            the mixed case runs each client alone and then both together, \(maxSeconds) s each, stopping when one client has drawn its frames. \
            The sink compares every row of every \(fullCheckInterval)th frame and sampled rows of the others. \
            Every case ran \(rounds) times, the modes in a different order each time, and up to \(repeatRule.maxExtraRounds) more times \
            while a ratio between its modes (fps over direct's; in the mixed case, each client's fps over its fps alone) \
            differed by more than \(Int(repeatRule.maxSpread * 100))% across rounds, or (typing) a mode's p99 minus direct's p99 of the \
            same round lay more than \(Format.ms(repeatRule.maxLatencyRange)) ms apart across rounds (the case furthest over its bound first, \
            \(Int(repeatRule.budgetSeconds)) s of repeats at most); \
            the tables show, for each mode, \
            its run with the highest fps (all runs are in benchmarks.json); the typing p99 target is judged on the median, over \
            the rounds, of each round's difference to direct
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
    /// Idle share of the machine over `idleSeconds` before the suite started and after it ended.
    var idleBefore: Double
    var idleAfter: Double
    var idleSeconds: Double

    /// CPU seconds used by processes other than the suite and its children.
    var otherBusy: Double { max(0, machineBusy - ownBusy) }

    var sentence: String {
        String(format: "The suite took %.0f s. The machine's %.0f CPU-seconds were %.0f%% busy: %.0f CPU-s the suite (bench, proxies, waypipe), %.0f CPU-s (%.0f%% of the machine) other processes. Load average %.2f before, %.2f after. Idle CPU (/proc/stat, %.1f s with nothing of the suite running): %.0f%% before, %.0f%% after.",
               seconds, capacity, capacity > 0 ? machineBusy / capacity * 100 : 0, ownBusy, otherBusy,
               capacity > 0 ? otherBusy / capacity * 100 : 0, loadBefore, loadAfter,
               idleSeconds, idleBefore * 100, idleAfter * 100)
    }
}
