@testable import Bench
import Foundation
import Glibc
import Synchronization
import Testing

/// The bench's frame checks with several windows run on a thread of their
/// own per window, in SCHED_IDLE, in the order the sink handed them over.
@Suite struct FrameCheckThreadTests {
    /// What the work saw, filled on the check thread.
    final class Seen: Sendable {
        let order = Mutex<[Int]>([])
        let policies = Mutex<Set<Int32>>([])
    }

    @Test func checksRunInOrderInSchedIdle() throws {
        let thread = try FrameCheckThread(name: "test-check")
        let seen = Seen()
        let done = DispatchSemaphore(value: 0)
        for i in 0..<20 {
            thread.submit {
                seen.order.withLock { $0.append(i) }
                let policy = sched_getscheduler(0)
                seen.policies.withLock { _ = $0.insert(policy) }
                if i == 19 { done.signal() }
            }
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(seen.order.withLock { $0 } == Array(0..<20))
        // SCHED_IDLE is 5 (linux/sched.h).
        #expect(seen.policies.withLock { $0 } == [5])
        thread.stop()
    }

    @Test func stopRunsWhatWasQueuedFirst() throws {
        let thread = try FrameCheckThread(name: "test-check")
        let seen = Seen()
        let gate = DispatchSemaphore(value: 0)
        thread.submit { gate.wait() }
        for i in 0..<5 { thread.submit { seen.order.withLock { $0.append(i) } } }
        gate.signal()
        thread.stop()
        #expect(seen.order.withLock { $0 } == Array(0..<5))
    }
}
