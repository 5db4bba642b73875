import PortholeSystem

/// Region copies of large commits, run on a `BackgroundWorker`, so that the
/// loop stays free (and asleep) for other windows' commits while a 4K frame
/// is copied (docs/benchmarks.md, "The copy off the loop").
final class SyncOffload {
    let worker: BackgroundWorker

    /// Commits with fewer bytes to copy run on the loop at once: a hop to
    /// the worker and back would cost more than it frees. (The same size
    /// that makes a stream sync run in slices.)
    static let minimumBytes = SyncTuning.sliceBytes

    init(worker: BackgroundWorker) { self.worker = worker }

    /// Starts `work`; `resume` runs on the loop once it is done.
    func start(_ work: RegionCopyWork, resume: @escaping () -> Void) -> OffloadedCopy {
        let result = OffloadedCopy.Result()
        let ticket = worker.submit({ result.outcome = work.run() }, completion: resume)
        return OffloadedCopy(ticket: ticket, work: work, result: result)
    }

    /// Whether `copy` is still running.
    func isRunning(_ copy: OffloadedCopy) -> Bool { worker.isPending(copy.ticket) }

    /// Blocks until `copy` is done (a flush that cannot wait for the loop).
    func finish(_ copy: OffloadedCopy) { worker.wait(for: copy.ticket) }
}

/// A commit's copy handed to the worker.
struct OffloadedCopy {
    /// Written by the worker, read by the loop after the completion ran
    /// (the worker's queue lock orders the two).
    final class Result: @unchecked Sendable {
        var outcome = RegionCopyWork.Outcome()
    }

    let ticket: BackgroundWorker.Ticket
    let work: RegionCopyWork
    let result: Result
}
