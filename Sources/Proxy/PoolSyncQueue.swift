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

    var isEmpty: Bool { jobs.isEmpty }

    /// Bytes of damage still to sync, all commits.
    var pendingBytes: Int { jobs.reduce(0) { $0 + $1.slices.remainingBytes } }

    /// A commit of `buffer` with `rects` to bring up to date.
    mutating func record(_ buffer: ShmBuffer, bufferID: UInt32, rects: [Rect], exclusive: Bool) {
        jobs.append(SyncJob(buffer: buffer, bufferID: bufferID, rects: rects, exclusive: exclusive))
    }

    /// Runs every recorded sync to its end, in commit order.
    mutating func flush(channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        while !jobs.isEmpty {
            if try Self.run(&jobs[0], budget: nil, channel: channel, stats: stats) { jobs.removeFirst() }
        }
    }

    /// Runs at most `budget` bytes of the recorded syncs, in commit order
    /// (each commit's own decisions are made at its first slice). Returns
    /// whether every sync is done.
    mutating func advance(budget: Int, channel: LinkChannel, stats: ProxyStats) throws(MessageFault) -> Bool {
        var left = budget
        while !jobs.isEmpty && left > 0 {
            let before = jobs[0].slices.remainingBytes
            let done = try Self.run(&jobs[0], budget: left, channel: channel, stats: stats)
            left -= max(1, before - jobs[0].slices.remainingBytes)
            if done { jobs.removeFirst() }
        }
        return jobs.isEmpty
    }

    /// One step of `job`: its start, then a slice of `budget` bytes (nil:
    /// all that is left). Returns whether it is done.
    private static func run(_ job: inout SyncJob, budget: Int?, channel: LinkChannel, stats: ProxyStats) throws(MessageFault) -> Bool {
        let pool = job.buffer.pool
        if !job.started {
            try pool.beginSync(&job, channel: channel, stats: stats)
            job.started = true
        }
        if !job.slices.isDone {
            let spans = budget.map { job.slices.next(budget: $0) } ?? job.slices.rest()
            try pool.syncSpans(spans, of: &job, channel: channel, stats: stats)
        }
        guard job.slices.isDone else { return false }
        pool.endSync(job)
        return true
    }

    mutating func discard() { jobs.removeAll() }
}
