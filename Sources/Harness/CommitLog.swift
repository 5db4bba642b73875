import Foundation

/// What the recording compositor saw, shared between its thread and test
/// threads: recorded commits (the newest `limit` kept, all counted) and
/// the protocol errors it posted.
final class CommitLog: @unchecked Sendable {
    // Every field is guarded by `condition`'s lock.
    private let condition = NSCondition()
    private var retained: [RecordedCommit] = []
    private var total = 0
    private var errors: [String] = []
    private let limit: Int

    /// A log keeping at most `limit` commits.
    init(limit: Int) { self.limit = max(limit, 1) }

    /// Adds a commit and wakes waiters.
    func record(_ commit: RecordedCommit) {
        condition.lock()
        retained.append(commit)
        if retained.count > limit { retained.removeFirst(retained.count - limit) }
        total += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Adds a line describing a protocol error the compositor posted.
    func noteError(_ line: String) {
        condition.lock()
        errors.append(line)
        condition.unlock()
    }

    /// The retained commits, oldest first.
    var commits: [RecordedCommit] {
        condition.lock()
        defer { condition.unlock() }
        return retained
    }

    /// How many commits were recorded in all.
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return total
    }

    /// The protocol errors posted so far.
    var postedErrors: [String] {
        condition.lock()
        defer { condition.unlock() }
        return errors
    }

    /// Blocks until at least `count` commits were recorded or `timeout` passes.
    func wait(forCount count: Int, timeout: Duration) -> Bool {
        let (seconds, attoseconds) = timeout.components
        let deadline = Date(timeIntervalSinceNow: Double(seconds) + Double(attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        while total < count {
            if !condition.wait(until: deadline) { return total >= count }
        }
        return true
    }
}
