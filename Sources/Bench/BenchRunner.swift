import Foundation
import Glibc
import Harness
import PortholeSystem

/// Runs one benchmark: starts the compositor and the mode's proxies, connects
/// the clients, draws the warm-up frames, then measures.
///
/// Each client is a `FrameClient` on its own thread: it draws frame k into a
/// free buffer (repainting what changed since that buffer's frame), commits,
/// and waits for frame k's callback before drawing frame k + 1. Once every
/// client has drawn its warm-up frames and they have all arrived, the
/// counters are read (everything is idle), the clock starts and the clients
/// draw their measured frames; when the last frame callback is back the
/// counters are read again.
public enum BenchRunner {
    public static func run(_ config: BenchConfig, log: (String) -> Void = { _ in }) throws -> BenchResult {
        let specs = config.clientSpecs
        guard specs.count >= 1, config.frames >= 1, config.warmup >= 1 else { throw BenchError("clients, frames and warm-up frames must be at least 1") }
        let plans = specs.map(\.plan)
        let runtime = try makeRuntimeDirectory()
        var keepRuntime = false
        RunDirectories.add(runtime)
        defer {
            RunDirectories.remove(runtime)
            if !keepRuntime { try? FileManager.default.removeItem(atPath: runtime) }
        }

        let perClient = config.warmup + config.frames
        let ledger = FrameLedger(clients: specs.count, framesPerClient: perClient)

        // The compositor.
        var sink: SinkCompositor?
        var checkThreads: [FrameCheckThread] = []
        var weston: WestonCompositor?
        let compositorName: String
        let compositorPath: String
        switch config.compositor {
        case .sink:
            compositorName = "sink"
            compositorPath = "\(runtime)/sink"
            // One verifier per client (the sink calls them on its one thread).
            let verifiers = plans.map { FrameVerifier(plan: $0, fullCheckInterval: config.fullCheckInterval) }
            let clients = specs.count
            /// The bench client a frame is from, or nil (recorded as a failure).
            @Sendable func benchClient(_ frame: SinkFrame) -> Int? {
                guard let app = frame.appID, app.hasPrefix(appIDPrefix), let i = Int(app.dropFirst(appIDPrefix.count)), i >= 0, i < clients else {
                    ledger.fail("a commit from client \(frame.client) with app_id \(frame.appID ?? "none"), not a bench client")
                    return nil
                }
                guard frame.index < perClient else {
                    ledger.fail("client \(i): frame \(frame.index) arrived but only \(perClient) were drawn")
                    return nil
                }
                return i
            }
            @Sendable func check(_ frame: SinkFrame, _ i: Int, between: () -> Void = {}) {
                let outcome = verifiers[i].verify(frame: frame.index, pixels: frame.pixels, width: frame.width, height: frame.height,
                                                  stride: frame.stride, format: frame.format, between: between)
                ledger.arrive(client: i, frame: frame.index, at: frame.arrival, outcome: outcome)
            }
            let s: SinkCompositor
            if specs.count > 1 {
                // Several windows: each client's frames are checked on a
                // thread of its own (`FrameCheckThread`), so a frame compared
                // row by row (every `fullCheckInterval`th: 2-3 ms at
                // 1280x720) does not hold the other windows' commits unread,
                // their arrival stamped late by the check. (One window:
                // nothing waits behind its check but its own next frame,
                // which waits either way.)
                let checkers: [FrameCheckThread]
                do { checkers = try (0..<clients).map { i throws(SystemError) in try FrameCheckThread(name: "bench-check-\(i)") } } catch {
                    throw BenchError("cannot start the frame-check threads: \(error)")
                }
                checkThreads = checkers
                s = SinkCompositor(socketPath: compositorPath, deferred: { frame, ticket in
                    guard let i = benchClient(frame) else { return ticket.finish() }
                    let held = HeldFrame(frame: frame)
                    checkers[i].submit {
                        // Offered between pieces of the check: SCHED_IDLE alone
                        // did not keep a check off a CPU a proxy loop was
                        // runnable on (under EEVDF a thread that had more than
                        // its share is not eligible; one preempted by a client it
                        // had woken waited 0.42 ms for a check to end).
                        check(held.frame, i, between: ThreadScheduling.offerCPU)
                        ticket.finish()
                    }
                })
            } else {
                s = SinkCompositor(socketPath: compositorPath) { frame in
                    if let i = benchClient(frame) { check(frame, i) }
                }
            }
            do { try s.start() } catch { throw BenchError("cannot start the sink compositor: \(error)") }
            sink = s
        case .weston:
            let w = try WestonCompositor(runtime: runtime, width: specs.map(\.width).max()!, height: specs.map(\.height).max()!)
            compositorName = w.socketName
            compositorPath = w.socketPath
            weston = w
        }
        defer {
            sink?.stop()
            for t in checkThreads { t.stop() }
            weston?.stop()
        }

        // The mode.
        let mode: RunningMode
        switch config.mode {
        case .direct: mode = DirectMode(compositorSocket: compositorPath)
        case .stream: mode = try StreamMode(porthole: config.portholePath, runtime: runtime, compositorSocket: compositorPath, guests: config.guests)
        case .waypipe: mode = try WaypipeMode(runtime: runtime, compositorName: compositorName, compression: config.waypipeCompression)
        case .region, .cooperative:
            mode = try StreamMode(porthole: config.portholePath, runtime: runtime, compositorSocket: compositorPath,
                                  regionBytes: StreamMode.regionSize(specs))
        }
        defer { mode.stop() }

        // The clients, connected one after the other.
        var workers: [ClientWorker] = []
        defer { for w in workers { w.client.close() } }
        do {
            for (i, spec) in specs.enumerated() {
                let client = try FrameClient(socketPath: mode.clientSocket(for: i), width: spec.width, height: spec.height,
                                             appID: "\(appIDPrefix)\(i)", title: "porthole bench \(i)",
                                             sharedMemory: config.mode == .cooperative)
                workers.append(ClientWorker(index: i, client: client, plan: plans[i], ledger: ledger, interval: spec.frameInterval))
            }
        } catch {
            keepRuntime = true
            try? mode.checkAlive()
            throw BenchError("a bench client could not connect through \(config.modeLabel): \(error) (logs in \(runtime))")
        }
        log("\(config.modeLabel): \(specs.count) client(s) connected")

        let gate = StartGate(count: workers.count, stopWhenOneFinishes: config.isMixed)
        let threads = workers.map { w in
            Thread {
                NativeThread.nameCurrent("bench-client-\(w.index)")
                w.run(warmup: config.warmup, frames: config.frames, gate: gate)
            }
        }
        for t in threads {
            t.stackSize = 1 << 20
            t.start()
        }
        gate.waitUntilAllReady()
        if let failure = workers.compactMap(\.failure).first {
            gate.open(deadline: 0)
            gate.waitUntilAllDone()
            keepRuntime = true
            throw BenchError("warm-up failed in \(config.modeLabel): \(failure) (logs in \(runtime))")
        }
        let before = try mode.counters()
        let t0 = MonotonicClock.nanoseconds()
        let deadline = config.maxSeconds.map { t0 + UInt64($0 * 1e9) } ?? UInt64.max
        gate.open(deadline: deadline)
        gate.waitUntilAllDone()
        let t1 = workers.map(\.finished).max() ?? t0
        if let failure = workers.compactMap(\.failure).first {
            keepRuntime = true
            try? mode.checkAlive()
            throw BenchError("\(config.modeLabel): \(failure) (logs in \(runtime))")
        }
        try mode.checkAlive()
        let after = try mode.counters()

        let measured = workers.reduce(0) { $0 + $1.measured }
        let seconds = Double(t1 - t0) / 1e9
        var result = BenchResult(config: config, frames: measured, verifiedFrames: 0, failedFrames: 0, failures: [],
                                 fullyCheckedFrames: 0, seconds: seconds, latencyP50: nil, latencyP99: nil,
                                 cpuSecondsPerFrame: nil, linkBytesPerFrame: nil, copiedBytesPerFrame: nil, peakRSSBytes: nil,
                                 linkCountingError: nil,
                                 framesWaitingForRelease: workers.reduce(0) { $0 + $1.client.framesThatWaitedForRelease })
        if config.compositor == .sink {
            let summary = ledger.summary(frames: config.warmup..<perClient)
            let report = ledger.failureReport
            result.frames = summary.arrived
            result.verifiedFrames = summary.verified
            result.failedFrames = report.count
            result.failures = report.first
            result.fullyCheckedFrames = report.fullChecks
            result.latencyP50 = quantile(summary.latencies, 0.5)
            result.latencyP99 = quantile(summary.latencies, 0.99)
            result.frameIntervalP50 = quantile(ledger.commitIntervals(frames: config.warmup..<perClient), 0.5)
            result.perClient = workers.map { w in
                let own = ledger.summary(frames: config.warmup..<perClient, only: w.index)
                let time = Double(w.finished &- t0) / 1e9
                return ClientResult(spec: specs[w.index], frames: own.arrived, fps: time > 0 ? Double(own.arrived) / time : 0,
                                    latencyP50: quantile(own.latencies, 0.5), latencyP99: quantile(own.latencies, 0.99))
            }
            if let path = config.frameLog {
                try FrameLog.append(ledger.rows(frames: config.warmup..<perClient), config: config, to: path)
            }
            if summary.arrived != measured {
                result.failures.append("\(measured) frames were committed but \(summary.arrived) arrived")
            }
        } else {
            // weston: a frame counts once its frame callback came back.
            result.verifiedFrames = measured
        }
        if mode.hasProxies && result.frames > 0 {
            let n = Double(result.frames)
            result.cpuSecondsPerFrame = (after.processes.cpuSeconds - before.processes.cpuSeconds) / n
            if let a = after.linkBytes, let b = before.linkBytes { result.linkBytesPerFrame = Double(a &- b) / n }
            if let a = after.copiedBytes, let b = before.copiedBytes { result.copiedBytesPerFrame = Double(a &- b) / n }
            if let a = after.linkImbalance, let b = before.linkImbalance, let link = result.linkBytesPerFrame, link > 0 {
                result.linkCountingError = Double(a - b) / (link * n)
            }
            result.peakRSSBytes = after.processes.peakRSSBytes
        }
        return result
    }

    /// Bench clients set app_id to this plus their number.
    static let appIDPrefix = "porthole-bench-"

    static func makeRuntimeDirectory() throws -> String {
        var template = Array("/tmp/porthole-bench-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw BenchError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        return String(cString: p)
    }
}

/// Holds the clients after their warm-up until the counters are read, then
/// lets them all go at once.
final class StartGate: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private var ready = 0
    private var done = 0
    private var isOpen = false
    private(set) var deadline: UInt64 = .max
    private let stopWhenOneFinishes: Bool
    private var stopped = false

    init(count: Int, stopWhenOneFinishes: Bool = false) {
        self.count = count
        self.stopWhenOneFinishes = stopWhenOneFinishes
    }

    /// Whether the clients should stop measuring: one has drawn all its
    /// frames and this is a mixed run (its neighbours would be alone from now).
    var shouldStop: Bool {
        condition.lock(); defer { condition.unlock() }
        return stopped
    }

    /// A client has drawn all its measured frames.
    func finishedFrames() {
        condition.lock(); defer { condition.unlock() }
        if stopWhenOneFinishes { stopped = true }
    }

    /// A client has finished its warm-up (or failed); blocks until the gate opens.
    func arriveAndWait() -> UInt64 {
        condition.lock(); defer { condition.unlock() }
        ready += 1
        condition.broadcast()
        while !isOpen { condition.wait() }
        return deadline
    }

    func waitUntilAllReady() {
        condition.lock(); defer { condition.unlock() }
        while ready < count { condition.wait() }
    }

    func open(deadline: UInt64) {
        condition.lock(); defer { condition.unlock() }
        self.deadline = deadline
        isOpen = true
        condition.broadcast()
    }

    func finish() {
        condition.lock(); defer { condition.unlock() }
        done += 1
        condition.broadcast()
    }

    func waitUntilAllDone() {
        condition.lock(); defer { condition.unlock() }
        while done < count { condition.wait() }
    }
}

/// One bench client and its thread's results.
final class ClientWorker: @unchecked Sendable {
    let index: Int
    let client: FrameClient
    let painter: FramePainter
    let plan: DamagePlan
    let ledger: FrameLedger
    /// Nanoseconds between frames of a client with a frame rate.
    let interval: UInt64?
    /// When the next frame of such a client is due.
    private var due: UInt64 = 0
    // Written by the worker thread, read after `StartGate.waitUntilAllDone`.
    private(set) var failure: String?
    private(set) var measured = 0
    private(set) var finished: UInt64 = 0

    init(index: Int, client: FrameClient, plan: DamagePlan, ledger: FrameLedger, interval: UInt64? = nil) {
        self.index = index
        self.interval = interval
        self.client = client
        self.plan = plan
        self.painter = FramePainter(plan: plan)
        self.ledger = ledger
    }

    private func drawAndWait(_ k: Int) throws(HarnessError) {
        waitUntilDue()
        let damage = plan.isFull(frame: k) ? nil : plan.rects(frame: k)
        let painter = self.painter, ledger = self.ledger, index = self.index
        try client.draw(frame: k, damage: damage, paint: { base, stride, held in
            painter.bring(base, stride: stride, from: held, to: k)
        }, beforeCommit: {
            ledger.commit(client: index, frame: k, at: MonotonicClock.nanoseconds())
        })
        try client.waitForFrameCallback()
    }

    /// Sleeps until the next frame of a paced client is due. A frame that
    /// comes late is drawn at once and the next is due an interval after
    /// it: a slow moment is not made up with a burst.
    private func waitUntilDue() {
        guard let interval else { return }
        let now = MonotonicClock.nanoseconds()
        if due > now {
            var left = timespec(tv_sec: Int((due - now) / 1_000_000_000), tv_nsec: Int((due - now) % 1_000_000_000))
            var rest = timespec()
            while nanosleep(&left, &rest) != 0 && errno == EINTR { left = rest }
        }
        due = max(due, now) + interval
    }

    func run(warmup: Int, frames: Int, gate: StartGate) {
        defer { gate.finish() }
        do {
            for k in 0..<warmup { try drawAndWait(k) }
        } catch {
            failure = "client \(index), warm-up: \(error)"
        }
        let deadline = gate.arriveAndWait()
        guard failure == nil else { return }
        do {
            for k in warmup..<(warmup + frames) {
                if measured > 0 && (MonotonicClock.nanoseconds() >= deadline || gate.shouldStop) { break }
                try drawAndWait(k)
                measured += 1
            }
            if measured == frames { gate.finishedFrames() }
        } catch {
            failure = "client \(index), frame \(warmup + measured): \(error)"
        }
        finished = MonotonicClock.nanoseconds()
    }
}

/// A sink frame handed to a verifying thread: its pixels stay mapped and
/// unchanged until the ticket is finished.
private struct HeldFrame: @unchecked Sendable {
    let frame: SinkFrame
}
