import Link
import Wayland

/// Syncs recorded at commits and not yet run. A commit only records (buffer,
/// damage); the connection runs them just before the data frame carrying
/// the commit goes (`ConnectionHandler.flushPending`), so the host always has
/// the pixels before it forwards the commit: frame order follows from where
/// the flush is, not from calls scattered through the handlers. A large
/// sync may instead be run a slice at a time (`advance`), the connection
/// holding its data frame back until the last slice is done.
struct PoolSyncQueue {
    private var jobs: [SyncJob] = []
    /// Where large syncs run, if not on the loop.
    private let offload: SyncOffload?

    init(offload: SyncOffload? = nil) { self.offload = offload }

    var isEmpty: Bool { jobs.isEmpty }

    /// Bytes of damage still to sync, all commits.
    var pendingBytes: Int { jobs.reduce(0) { $0 + $1.slices.remainingBytes } }

    /// A commit of `buffer` with `rects` to bring up to date.
    mutating func record(_ buffer: ShmBuffer, bufferID: UInt32, rects: [Rect], exclusive: Bool) {
        jobs.append(SyncJob(buffer: buffer, bufferID: bufferID, rects: rects, exclusive: exclusive))
    }

    /// Runs every recorded sync to its end, in commit order (waiting for a
    /// copy on the worker, if one runs).
    mutating func flush(channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        while !jobs.isEmpty {
            if try Self.run(&jobs[0], budget: nil, channel: channel, stats: stats, offload: offload, resume: nil) == .done {
                jobs.removeFirst()
            }
        }
    }

    /// Runs at most `budget` bytes of the recorded syncs, in commit order
    /// (each commit's own decisions are made at its first slice). A large
    /// sync the pool can detach goes to the worker instead, and `resume` runs on the
    /// loop when it is done. Returns where the syncs stand.
    mutating func advance(budget: Int, channel: LinkChannel, stats: ProxyStats, resume: @escaping () -> Void) throws(MessageFault) -> SliceProgress {
        var left = budget
        while !jobs.isEmpty && left > 0 {
            let before = jobs[0].slices.remainingBytes
            let step = try Self.run(&jobs[0], budget: left, channel: channel, stats: stats, offload: offload, resume: resume)
            if step == .waitForWorker { return .waitForWorker }
            left -= max(1, before - jobs[0].slices.remainingBytes)
            if step == .done { jobs.removeFirst() }
        }
        return jobs.isEmpty ? .done : .more
    }

    /// One step of `job`: its start, then a slice of `budget` bytes (nil:
    /// all that is left, waiting for the worker if need be).
    private static func run(_ job: inout SyncJob, budget: Int?, channel: LinkChannel, stats: ProxyStats,
                            offload: SyncOffload?, resume: (() -> Void)?) throws(MessageFault) -> SliceProgress {
        let pool = job.buffer.pool
        if let copy = job.offloaded, let offload {
            if budget == nil { offload.finish(copy) } else if offload.isRunning(copy) { return .waitForWorker }
            job.offloaded = nil
            try pool.finishDetached(copy, of: &job, channel: channel, stats: stats)
        }
        if !job.started {
            offload?.noteSync(channel: channel.id)
            try pool.beginSync(&job, channel: channel, stats: stats)
            job.started = true
        }
        if !job.slices.isDone {
            if let offload, let resume, job.slices.remainingBytes >= SyncOffload.minimumBytes,
               let work = try pool.detachedCopy(job.slices.peekRest(), of: job, channel: channel) {
                _ = job.slices.rest()
                job.offloaded = offload.start(work, channel: channel.id, resume: resume)
                stats.syncsOnCopyThread += 1
                return .waitForWorker
            }
            let spans = budget.map { job.slices.next(budget: $0) } ?? job.slices.rest()
            try pool.syncSpans(spans, of: &job, channel: channel, stats: stats)
        }
        guard job.slices.isDone else { return .more }
        pool.endSync(job)
        return .done
    }

    /// Forgets the recorded syncs; a copy on the worker is waited for first,
    /// so that its chunk is not handed to another pool while written.
    mutating func discard() {
        if let copy = jobs.first?.offloaded { offload?.finish(copy) }
        jobs.removeAll()
    }
}
