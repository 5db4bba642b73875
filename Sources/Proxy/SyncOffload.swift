import PortholeSystem

/// Large syncs run on a `BackgroundWorker`, so that the loop stays free
/// (and asleep) for other windows' commits while a 4K frame is copied:
/// region copies (docs/benchmarks.md, "The copy off the loop"), and the
/// compares and copies into the mirror of a stream window on the bulk lane.
final class SyncOffload {
    let worker: BackgroundWorker
    /// Takes a share of the worker's large copies; nil on one CPU.
    let helper: CopyHelper?
    /// Which windows synced lately: the helper joins only a lone window's copies.
    private var activity = SyncActivity()
    /// Works handed over with the helper (whether it then took a share is
    /// the scheduler's affair: `ProxyStats.copyHelperBytes`).
    private(set) var helperOffers = 0

    /// Commits with fewer bytes to copy run on the loop at once: a hop to
    /// the worker and back would cost more than it frees. (The same size
    /// that makes a stream sync run in slices.)
    static let minimumBytes = SyncTuning.sliceBytes

    init(worker: BackgroundWorker, helper: CopyHelper?) {
        self.worker = worker
        self.helper = helper
    }

    /// `channel`'s window starts a sync (any size, on the loop or not).
    /// Without a helper there is nothing to decide: no clock read a commit.
    func noteSync(channel: UInt32) {
        guard helper != nil else { return }
        activity.note(channel: channel, now: MonotonicClock.nanoseconds())
    }

    /// Starts `channel`'s `work`; `resume` runs on the loop once it is done.
    func start(_ work: any DetachedSync, channel: UInt32, resume: @escaping () -> Void) -> OffloadedCopy {
        let helper = self.helper.flatMap { activity.othersQuiet(besides: channel, now: MonotonicClock.nanoseconds()) ? $0 : nil }
        if helper != nil { helperOffers += 1 }
        return OffloadedCopy(ticket: worker.submit({ work.run(helper: helper) }, completion: resume), work: work)
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
