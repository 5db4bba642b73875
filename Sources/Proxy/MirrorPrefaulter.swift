import PortholeSystem
import Synchronization

/// Faults in stream pools' mirrors on a thread of its own, ahead of their
/// first copies.
///
/// Why: a new window's mirror is fresh anonymous memory, and the first copy
/// of a 4K frame into it made the kernel allocate and zero 8100 pages one
/// fault at a time, on the loop: 16-17 ms against a frame's 7, while every
/// other window's commits waited (docs/benchmarks.md, "A new stream
/// window's 16th frame"). Such a window's commits go by reference at first
/// (a blind run, `StreamPool`), so its mirror is written only at the run's
/// last commit, about 14 frames after the first: time enough for the kernel
/// to populate the span on another core (MADV_POPULATE_WRITE, which leaves
/// the contents as they are).
///
/// The job holds only an address, so the mapping must stay where it is
/// until the job is done: the completion (run on the loop) holds the
/// mapping, so it is not unmapped before, and a pool that moves its mirror
/// (`StreamPool.grow`) waits for its jobs first.
///
/// The guest has one for its windows' pools and its producers' buffers;
/// a host with a buffer service has one for the views it copies to guests'
/// consumers, where the stalled loop would be every guest's.
///
/// Only the loop's thread calls into this class.
final class MirrorPrefaulter {
    /// Spans smaller than this fault on the loop as before (1 MiB, about
    /// 0.5 ms of faults here): not worth the hop.
    static let minimumBytes = 1 << 20
    /// Jobs queued or running at once; more are refused, so that a client
    /// making pool after pool cannot queue up the thread (its mirror then
    /// faults on the loop, as it would without this).
    static let maxPending = 4

    let worker: BackgroundWorker
    private let stats: ProxyStats
    /// Jobs whose completion has not run yet.
    private(set) var pending = 0

    init(worker: BackgroundWorker, stats: ProxyStats) {
        self.worker = worker
        self.stats = stats
    }

    /// With a worker thread of its own, `porthole-mirror`, beside `loop`.
    convenience init(loop: EventLoop, stats: ProxyStats) throws(SystemError) {
        self.init(worker: try BackgroundWorker(loop: loop, name: "porthole-mirror"), stats: stats)
    }

    /// Starts populating `span` of `mirror`; the ticket to wait on before the
    /// mapping moves, or nil when nothing was started (too small, out of the
    /// mapping, or too many jobs pending).
    func start(_ mirror: SharedMapping, span: Range<Int>) -> BackgroundWorker.Ticket? {
        guard span.count >= Self.minimumBytes, pending < Self.maxPending, let base = mirror.base,
              span.lowerBound >= 0, span.upperBound <= mirror.size else { return nil }
        // Sendable across to the worker: the address as a number, the
        // outcome in an atomic the completion reads once the job is done.
        let address = UInt(bitPattern: base + span.lowerBound), count = span.count
        let failure = Outcome()
        pending += 1
        return worker.submit({
            guard let p = UnsafeMutableRawPointer(bitPattern: address) else { return }
            // A piece at a time, offering the CPU between pieces: the
            // kernel's populating of 33 MB holds a woken thread back as a
            // copy does (`ThreadScheduling.offerCPU`).
            var done = 0
            while done < count {
                if done > 0 { ThreadScheduling.offerCPU() }
                let n = min(ThreadScheduling.bulkPiece, count - done)
                do throws(SystemError) { try SharedMapping.populateForWriting(p + done, count: n) } catch {
                    failure.code.store(error.code, ordering: .relaxed)
                    return
                }
                done += n
            }
        }, completion: { [self, mirror] in
            withExtendedLifetime(mirror) {}
            pending -= 1
            let code = failure.code.load(ordering: .relaxed)
            if code == 0 {
                stats.mirrorBytesPrefaulted += UInt64(count)
            } else {
                // Nothing is lost but the head start: the copy faults the
                // pages in itself (as on a kernel before 5.14: EINVAL).
                Log.debug("mirror prefault of \(count) bytes: \(SystemError("madvise", code: code))")
            }
        })
    }

    /// Whether `ticket`'s job has not completed yet.
    func isPending(_ ticket: BackgroundWorker.Ticket) -> Bool { worker.isPending(ticket) }

    /// Blocks until `ticket`'s job is done (the mapping is about to move).
    func wait(for ticket: BackgroundWorker.Ticket) { worker.wait(for: ticket) }

    /// A job's errno, 0 when it succeeded.
    private final class Outcome: Sendable {
        let code = Atomic<Int32>(0)
    }
}
