import ArgumentParser
import Glibc
import Harness
import PortholeSystem

/// Set by SIGINT or SIGTERM: `watch` stops and prints its summary.
nonisolated(unsafe) private var stopRequested: sig_atomic_t = 0

struct BuffersWatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow updates: check each one's stamp and checksum, release it, print rates and latency.",
        discussion: """
            Every update whose buffer starts with a frame stamp (porthole share publish, docs/buffer-sharing.md §6) \
            is checked: the stamp's sequence must be the update's and its checksum the bytes'. Latency (now minus \
            the producer's time in the stamp) means something only when producer and consumer share a clock (one \
            machine); it is left out when it comes out negative or above a minute. Exits with status 1 if any \
            update failed its check, or --frames were not all seen. SIGINT or SIGTERM end it with the summary.
            """
    )

    @OptionGroup var options: ConsumerOptions

    @Option(name: .long, help: ArgumentHelp("Stop after N updates.", valueName: "N"))
    var frames: Int?

    @Option(name: .long, help: ArgumentHelp("Stop after SECONDS.", valueName: "SECONDS"))
    var duration: Double?

    @Flag(name: .long, help: "Print only the summary, not a line per second.")
    var quiet = false

    @Flag(name: .long, help: "Never release updates (to see a producer wait, and this consumer evicted after the host's timeout).")
    var hold = false

    func run() throws {
        let consumer = try options.connect()
        signal(SIGINT) { _ in stopRequested = 1 }
        signal(SIGTERM) { _ in stopRequested = 1 }
        var tally = WatchTally()
        let start = MonotonicClock.nanoseconds()
        var lastReport = start
        var window = WatchTally()
        var revoked = false
        let end = duration.map { start + UInt64($0 * 1e9) }
        while (frames.map { tally.updates < $0 } ?? true) && stopRequested == 0 && !revoked {
            let now = MonotonicClock.nanoseconds()
            if let end, now >= end { break }
            let wait = min(0.2, end.map { Double($0 - now) / 1e9 } ?? 0.2)
            for event in try consumer.events(waiting: .nanoseconds(Int64(wait * 1e9))) {
                switch event {
                case .updated(let id, let sequence, _, _):
                    guard let b = consumer.buffers[id] else { continue }
                    let now = MonotonicClock.nanoseconds()
                    let result = WatchTally.check(b.bytes, sequence: sequence, now: now)
                    tally.add(result, at: now)
                    window.add(result, at: now)
                    if case .bad(let why) = result { Log.warning("buffer \(id) sequence \(sequence): \(why)") }
                    if !hold { try consumer.release(id, sequence: sequence) }
                case .added(let id):
                    if let b = consumer.buffers[id], !quiet { say("buffer \(id) added: guest=\(b.guest) app=\(b.application) size=\(b.size)") }
                case .removed(let id):
                    if !quiet { say("buffer \(id) removed") }
                case .reset(let guest, let generation):
                    if !quiet { say("guest \(guest) reset (generation \(generation))") }
                case .guestConnected(let guest):
                    if !quiet { say("guest \(guest) connected") }
                case .guestDisconnected(let guest):
                    if !quiet { say("guest \(guest) disconnected") }
                }
            }
            if let why = consumer.importFailure {
                say("import refused: \(why)")
                throw ExitCode.failure
            }
            if consumer.revoked && !revoked {
                say("reference revoked")
                revoked = true
            }
            let after = MonotonicClock.nanoseconds()
            if after - lastReport >= 1_000_000_000 {
                if !quiet { say(window.line(seconds: Double(after - lastReport) / 1e9)) }
                window = WatchTally()
                lastReport = after
            }
        }
        let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        say("watched " + tally.line(seconds: seconds))
        consumer.close()
        if tally.bad > 0 || frames.map({ tally.updates < $0 }) == true { throw ExitCode.failure }
    }
}
