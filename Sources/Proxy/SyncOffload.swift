import PortholeSystem

/// Large syncs run on a `BackgroundWorker`, so that the loop stays free
/// (and asleep) for other windows' commits while a 4K frame is copied:
/// region copies (docs/benchmarks.md, "The copy off the loop"), and the
/// compares and copies into the mirror of a stream window on the bulk lane.
final class SyncOffload {
    let worker: BackgroundWorker

    /// Commits with fewer bytes to copy run on the loop at once: a hop to
    /// the worker and back would cost more than it frees. (The same size
    /// that makes a stream sync run in slices.)
    static let minimumBytes = SyncTuning.sliceBytes

    init(worker: BackgroundWorker) { self.worker = worker }

    /// Starts `work`; `resume` runs on the loop once it is done.
    func start(_ work: any DetachedSync, resume: @escaping () -> Void) -> OffloadedCopy {
        OffloadedCopy(ticket: worker.submit({ work.run() }, completion: resume), work: work)
    }

    /// Whether `copy` is still running.
    func isRunning(_ copy: OffloadedCopy) -> Bool { worker.isPending(copy.ticket) }

    /// Blocks until `copy` is done (a flush that cannot wait for the loop).
    func finish(_ copy: OffloadedCopy) { worker.wait(for: copy.ticket) }
}

/// A commit's sync handed to the worker.
struct OffloadedCopy {
    let ticket: BackgroundWorker.Ticket
    let work: any DetachedSync
}
