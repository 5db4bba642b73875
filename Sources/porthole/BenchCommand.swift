import ArgumentParser
import Bench
import Foundation

extension BenchMode: ExpressibleByArgument {}
extension WaypipeCompression: ExpressibleByArgument {}
extension BenchCompositor: ExpressibleByArgument {}
extension DamagePattern: ExpressibleByArgument {}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure frames through porthole, waypipe and a direct connection, checking every frame.",
        discussion: """
            Bench clients are real Wayland clients (wl_shm, two buffers, paced by frame callbacks) that draw a \
            known picture: every pixel follows from the frame number, and each frame repaints only its damage. \
            The sink compositor is a real Wayland server (wl_compositor, wl_shm, xdg_wm_base, wl_output) that \
            checks each committed frame (rows in and outside the damage every frame, all rows every \
            --full-check-every frames), times its arrival, then releases the buffer and fires the frame callback \
            at once. With --compositor weston, a headless weston takes the frames instead and frames are only counted.

            Modes: direct (clients connect to the compositor), stream (porthole guest and host over a unix-socket \
            link, damaged changed bytes copied over it), region (as stream, with a shared region file in /dev/shm: \
            the guest proxy copies changed bytes into it, the compositor reads it, no pixels on the link), cooperative \
            (as region, but the clients draw into region buffers from porthole_shared_memory_v1: no copies by any \
            proxy), waypipe (waypipe server and client, with --waypipe-compress).

            Proxy CPU comes from /proc/PID/stat (children included), peak RSS from VmHWM, link and copied bytes \
            from porthole's --stats; waypipe's link bytes from /proc/PID/io (its link writes), copied bytes n/a.
            """
    )

    @Option(name: .long, help: ArgumentHelp("How frames travel: direct, stream, region, cooperative or waypipe. Repeat to compare several in one run.", valueName: "MODE"))
    var mode: [BenchMode] = []

    @Option(name: .long, help: ArgumentHelp("Who takes the frames: sink (checks pixels, times arrival) or weston (headless; frames counted only).", valueName: "sink|weston"))
    var compositor: BenchCompositor = .sink

    @Option(name: .long, help: ArgumentHelp("Surface size in pixels.", valueName: "WxH"))
    var size = "1920x1080"

    @Option(name: .long, help: ArgumentHelp("Damage layout: full, band (a moving band of rows), scattered (small rectangles) or typing (three character cells a frame).", valueName: "full|band|scattered|typing"))
    var pattern: DamagePattern = .full

    @Option(name: .long, help: ArgumentHelp("Share of the surface each frame repaints (default: 1 full, 0.25 band, 0.02 scattered).", valueName: "FRACTION"))
    var damage: Double?

    @Option(name: .long, help: "Bench clients drawing at once, each in its own window.")
    var clients = 1

    @Option(name: .customLong("client"), help: ArgumentHelp("A window of a mixed run through one proxy pair, e.g. 3840x2160:full, or 3840x2160:full@60 for a window drawing at most 60 frames a second (a video); repeat for each window (replaces --size, --pattern and --clients). Each client also runs alone in the same mode, for comparison; the run stops when one client has drawn --frames.", valueName: "WxH:PATTERN[@FPS]"))
    var mixedClients: [String] = []

    @Option(name: .long, help: "Measured frames per client (default 120; with --client 100000, bounded by --max-seconds).")
    var frames: Int?

    @Option(name: .long, help: "Frames per client drawn before measuring (the first repaints everything).")
    var warmup = 3

    @Option(name: .long, help: ArgumentHelp("The sink compares every row of every Nth frame (frame 0 included).", valueName: "N"))
    var fullCheckEvery = 30

    @Option(name: .long, help: ArgumentHelp("Stop measuring after SECONDS even if frames remain (default with --client: 2).", valueName: "SECONDS"))
    var maxSeconds: Double?

    @Option(name: .long, help: ArgumentHelp("waypipe's --compress for the waypipe mode.", valueName: "none|lz4|zstd"))
    var waypipeCompress: WaypipeCompression = .none

    @Flag(name: .long, help: "Print one JSON object per mode (one line each) instead of a table.")
    var json = false

    @Flag(name: .long, help: "Run the whole matrix (3 sizes x 3 damage layouts x 1 and 8 clients, every available mode) and write a report and plot.")
    var suite = false

    @Option(name: .long, help: ArgumentHelp("Where --suite writes benchmarks.md, benchmarks.png and benchmarks.json.", valueName: "DIR"))
    var output = "docs"

    @Option(name: .long, help: ArgumentHelp("--suite: the waypipe compressions to run (comma-separated).", valueName: "LIST"))
    var suiteWaypipeCompress = "none,lz4"

    @Option(name: .long, help: ArgumentHelp("The porthole executable the proxies run (default: this one).", valueName: "PATH"))
    var porthole: String?

    @Flag(name: .long, help: "Only time memcpy of one 3840x2160 frame (what --suite prints beside the region results).")
    var copySpeed = false

    @Option(name: .long, help: ArgumentHelp("Stream mode: spread the clients over N guest proxies (client i on guest i mod N), each its own link to the one host proxy, as N VMs on one host. Other modes run as usual.", valueName: "N"))
    var guests = 1

    @Option(name: .long, help: ArgumentHelp("Append every measured frame (mode, window, frame, commit and arrival in CLOCK_MONOTONIC ns, latency) to FILE as CSV, to find where a tail comes from (sink compositor, not with --suite).", valueName: "FILE"))
    var frameLog: String?

    @Flag(name: .long, help: "--suite: a short smoke run (small sizes, few frames); nothing is written unless --output is given.")
    var quick = false

    func validate() throws {
        guard parseSize(size) != nil else { throw ValidationError("--size must be WxH with both between 1 and 16384, e.g. 1920x1080") }
        if let d = damage, !(d > 0 && d <= 1) { throw ValidationError("--damage must be in (0, 1]") }
        if pattern == .full, let d = damage, d != 1 { throw ValidationError("--pattern full repaints everything: give --pattern band or scattered for --damage \(d)") }
        guard clients >= 1 && clients <= 64 else { throw ValidationError("--clients must be 1 to 64") }
        guard guests >= 1 && guests <= 8 else { throw ValidationError("--guests must be 1 to 8") }
        if guests > 1 && suite { throw ValidationError("--guests and --suite do not go together") }
        guard (frames ?? 1) >= 1 else { throw ValidationError("--frames must be at least 1") }
        for c in mixedClients where ClientSpec(argument: c) == nil {
            throw ValidationError("--client \(c): expected WxH:PATTERN or WxH:PATTERN@FPS with sides 1 to \(ClientSpec.maxSide), a pattern of full, band, scattered or typing and a rate of 1 to \(ClientSpec.maxRate)")
        }
        if !mixedClients.isEmpty && suite { throw ValidationError("--client and --suite do not go together (the suite has its own mixed case)") }
        guard warmup >= 1 else { throw ValidationError("--warmup must be at least 1") }
        guard fullCheckEvery >= 1 else { throw ValidationError("--full-check-every must be at least 1") }
        if suite && compositor != .sink { throw ValidationError("--suite uses the sink compositor") }
        if frameLog != nil && (suite || compositor != .sink) { throw ValidationError("--frame-log needs the sink compositor and a single run, not --suite") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        SpawnedGroups.stopWithTheBench()
        if copySpeed {
            print(MemcpyProbe.measure(tries: 31).sentence)
            return
        }
        if suite {
            let compressions = try suiteWaypipeCompress.split(separator: ",").map { s -> WaypipeCompression in
                guard let c = WaypipeCompression(rawValue: String(s)) else { throw ValidationError("unknown waypipe compression \(s)") }
                return c
            }
            let options = BenchSuite.Options(quick: quick, waypipeCompressions: compressions,
                                             outputDirectory: quick && output == "docs" ? nil : output,
                                             command: (["porthole"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
                                             portholePath: portholePath)
            try BenchSuite.run(options) { print($0); fflush(nil) }
            return
        }
        if !mixedClients.isEmpty { return try runMixed() }
        let (w, h) = parseSize(size)!
        var results: [BenchResult] = []
        var failed = false
        for m in mode.isEmpty ? [.stream] : mode {
            var config = config(m, frames: frames ?? 120, maxSeconds: maxSeconds)
            config.width = w
            config.height = h
            config.pattern = pattern
            config.fraction = damage
            config.clients = clients
            let result: BenchResult
            do { result = try BenchRunner.run(config) } catch {
                FileHandle.standardError.write(Data("porthole bench: \(config.modeLabel): \(error)\n".utf8))
                throw ExitCode.failure
            }
            if !result.passed { failed = true }
            if json { print(result.json) } else { results.append(result) }
            fflush(nil)
        }
        if !json {
            let plan = DamagePlan(pattern: pattern, fraction: damage ?? pattern.defaultFraction, width: w, height: h)
            print("\(w)x\(h), \(plan.label) (measured \(String(format: "%.2f", plan.measuredFraction * 100))%), \(clients) client(s), compositor \(compositor.rawValue)")
            print(BenchResult.table(results))
            for r in results where !r.failures.isEmpty {
                print("\(r.config.modeLabel): \(r.failedFrames) frame(s) wrong:")
                for f in r.failures { print("  \(f)") }
            }
        }
        if failed { throw ExitCode.failure }
    }
}

extension BenchCommand {
    /// A run of mode `m` with the options every kind of run shares.
    func config(_ m: BenchMode, frames: Int, maxSeconds: Double?) -> BenchConfig {
        var config = BenchConfig(mode: m)
        config.compositor = compositor
        config.frames = frames
        config.warmup = warmup
        config.fullCheckInterval = fullCheckEvery
        config.maxSeconds = maxSeconds
        config.waypipeCompression = waypipeCompress
        config.portholePath = portholePath
        config.guests = m == .stream ? guests : 1
        config.frameLog = frameLog.map(absolutePath)
        return config
    }

    /// `--client` runs: for each mode, every client alone and then the mix.
    func runMixed() throws {
        let specs = mixedClients.compactMap { ClientSpec(argument: $0) }
        var comparisons: [MixedComparison] = []
        var failed = false
        for m in mode.isEmpty ? [.stream] : mode {
            var config = config(m, frames: frames ?? 100_000, maxSeconds: maxSeconds ?? 2)
            config.mix = specs
            let c: MixedComparison
            do { c = try MixedComparison.run(config) } catch {
                FileHandle.standardError.write(Data("porthole bench: \(config.modeLabel): \(error)\n".utf8))
                throw ExitCode.failure
            }
            if !c.passed { failed = true }
            if json {
                for r in c.alone + [c.mixed] { print(r.json) }
            } else {
                comparisons.append(c)
            }
            fflush(nil)
        }
        if !json {
            print("mixed: \(specs.map(\.description).joined(separator: " + ")) through one proxy pair, compositor \(compositor.rawValue); each client also alone")
            print(MixedComparison.table(comparisons))
            for c in comparisons {
                for r in c.alone + [c.mixed] where !r.failures.isEmpty {
                    print("\(r.config.modeLabel) \(r.config.layoutLabel): \(r.failedFrames) frame(s) wrong:")
                    for f in r.failures { print("  \(f)") }
                }
            }
        }
        if failed { throw ExitCode.failure }
    }

    var portholePath: String { porthole.map(absolutePath) ?? ProcFS.executablePath() }

    /// `path` from the current directory when it is relative.
    func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// "1920x1080" as (1920, 1080).
func parseSize(_ s: String) -> (Int, Int)? {
    let parts = s.lowercased().split(separator: "x")
    guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), (1...16384).contains(w), (1...16384).contains(h) else { return nil }
    return (w, h)
}
