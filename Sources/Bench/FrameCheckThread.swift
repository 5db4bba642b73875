import Foundation
import PortholeSystem
import Synchronization

/// A thread that runs one client's frame checks, in order, in SCHED_IDLE.
///
/// Why its own thread and that class: with several windows the sink hands
/// each frame's check to another thread so that one window's check (every
/// `fullCheckInterval`th frame compares every row: 2-3 ms at 1280x720) does
/// not hold the other windows' commits unread. At the default priority those
/// checks still took the CPU from the sink, the proxies and the clients they
/// were checking: a compositor that had woken for a commit waited behind a
/// check's 0.3-0.4 ms, and direct's typing p99 with eight windows read
/// 0.4-0.7 ms at 1280x720 and 1.0-1.15 at 1920x1080 (0.06-0.17 with these
/// threads; `perf sched timehist`, docs/benchmarks.md "The checks out of the
/// way"). In SCHED_IDLE a check yields to the measured pipeline; a frame's release
/// and callback still wait for its check, so the frame rate pays for the
/// checks as before. A thread of our own, not a dispatch queue: the class
/// stays with the thread, and the bench's other dispatch work must not
/// inherit it.
final class FrameCheckThread: @unchecked Sendable {
    /// What the owner and the thread share.
    private final class Queue: Sendable {
        struct State {
            var work: [@Sendable () -> Void] = []
            var stopping = false
        }
        let state = Mutex(State())
        /// Counts queued work (and the stop); the thread sleeps on it.
        let queued = DispatchSemaphore(value: 0)

        /// The thread's body: the queued work in order, until stopped.
        func serve() {
            while true {
                queued.wait()
                let next = state.withLock { s -> (@Sendable () -> Void)? in s.work.isEmpty ? nil : s.work.removeFirst() }
                if let next { next(); continue }
                if state.withLock({ $0.stopping }) { return }
            }
        }
    }

    private let queue = Queue()
    private var thread: pthread_t?

    /// Starts the thread; `name` is what `perf` and `top -H` show.
    init(name: String) throws(SystemError) {
        let queue = self.queue
        thread = try NativeThread.start("start a frame-check thread", name: name) {
            // Best effort: where the kernel refuses, the checks run as before.
            try? ThreadScheduling.runOnlyWhenIdle()
            queue.serve()
        }
    }

    deinit { stop() }

    /// Queues `work` behind the checks already queued.
    func submit(_ work: @escaping @Sendable () -> Void) {
        queue.state.withLock { $0.work.append(work) }
        queue.queued.signal()
    }

    /// Runs what is queued, then ends the thread and waits for it.
    func stop() {
        guard let t = thread else { return }
        thread = nil
        queue.state.withLock { $0.stopping = true }
        queue.queued.signal()
        pthread_join(t, nil)
    }
}
