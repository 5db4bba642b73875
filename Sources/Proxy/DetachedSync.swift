import PortholeSystem

/// A commit's sync packed so that the copy thread can run it: addresses,
/// spans and decisions made on the loop, with the mappings it reads and
/// writes held alive until it is done. What it found stays in the object;
/// the loop reads it once the completion has run (the worker's queue lock
/// orders the write before the read), so the loop never touches it while
/// the thread runs.
protocol DetachedSync: AnyObject, Sendable {
    /// Runs the sync (on the copy thread, or on the loop for a small one);
    /// `helper`, on the copy thread, takes a share of large copies.
    func run(helper: CopyHelper?)
}

extension DetachedSync {
    /// Runs the sync on this thread alone.
    func run() { run(helper: nil) }
}
