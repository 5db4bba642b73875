import Foundation
import Synchronization

/// The runtime directories of the runs in progress (sockets, logs, stats
/// files under /tmp), so that a bench ended by a signal removes them too:
/// the run's own cleanup never runs then, and every Ctrl-C left one behind.
enum RunDirectories {
    private static let live = Mutex<Set<String>>([])

    static func add(_ path: String) { live.withLock { _ = $0.insert(path) } }
    static func remove(_ path: String) { live.withLock { _ = $0.remove(path) } }

    /// Removes every directory of a run in progress (the helpers using them
    /// are gone by then).
    static func removeAll() {
        for path in live.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
