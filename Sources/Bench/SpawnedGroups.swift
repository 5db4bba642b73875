import Foundation
import Glibc
import Synchronization

/// The process groups of every helper the bench has running, so that a
/// bench stopped by a signal takes them with it: each runs in a group of its
/// own, out of reach of the terminal's Ctrl-C and of a SIGTERM to the bench.
public enum SpawnedGroups {
    private static let live = Mutex<Set<pid_t>>([])

    static func add(_ pid: pid_t) { live.withLock { _ = $0.insert(pid) } }
    static func remove(_ pid: pid_t) { live.withLock { _ = $0.remove(pid) } }

    /// From now on, SIGINT, SIGTERM and SIGHUP end the bench on a thread of
    /// their own: every helper's group gets SIGKILL, the runs' directories
    /// are removed (`RunDirectories`), then the bench exits as the signal
    /// would have ended it. Call before starting any thread, so
    /// that every thread inherits the blocked signals.
    public static func stopWithTheBench() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waiter = Thread {
            var wanted = sigset_t()
            sigemptyset(&wanted)
            for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&wanted, s) }
            var signal: Int32 = 0
            guard sigwait(&wanted, &signal) == 0 else { return }
            let groups = live.withLock { $0 }
            for pid in groups { kill(-pid, SIGKILL) }
            for pid in groups { var status: Int32 = 0; _ = waitpid(pid, &status, 0) }
            RunDirectories.removeAll()
            exit(128 + signal)
        }
        waiter.start()
    }
}
