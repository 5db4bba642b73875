import Foundation
import Glibc
import PortholeSystem
import Synchronization
import Testing

@Suite("Background worker") struct BackgroundWorkerTests {
    /// Which thread ran what, written by the worker.
    final class Record: Sendable {
        let entries = Mutex<[(Int, pthread_t)]>([])
        func add(_ n: Int) { entries.withLock { $0.append((n, pthread_self())) } }
        var order: [Int] { entries.withLock { $0.map(\.0) } }
        var threads: [pthread_t] { entries.withLock { $0.map(\.1) } }
    }

    @Test("work runs in submission order on another thread, and each completion runs on the loop's thread when the loop turns")
    func workRunsInOrderOffTheLoop() throws {
        let loop = try EventLoop()
        let worker = try BackgroundWorker(loop: loop, name: "test-worker")
        let record = Record()
        var completed: [Int] = []
        var completionThreads: [pthread_t] = []
        for n in 0..<20 {
            worker.submit({ record.add(n) }) {
                completed.append(n)
                completionThreads.append(pthread_self())
            }
        }
        let deadline = Double(MonotonicClock.nanoseconds()) / 1e9 + 10
        while completed.count < 20 && Double(MonotonicClock.nanoseconds()) / 1e9 < deadline { _ = loop.runOnce(timeout: 0.1) }
        #expect(record.order == Array(0..<20))
        #expect(completed == Array(0..<20))
        let me = pthread_self()
        #expect(record.threads.allSatisfy { pthread_equal($0, me) == 0 }, "the work ran on the loop's thread")
        #expect(completionThreads.allSatisfy { pthread_equal($0, me) != 0 }, "a completion ran off the loop's thread")
    }

    @Test("no completion runs before the loop turns, and wait(for:) blocks until that work is done and runs its completion")
    func waitBlocksUntilDone() throws {
        let loop = try EventLoop()
        let worker = try BackgroundWorker(loop: loop, name: "test-worker")
        let finished = Atomic<Bool>(false)
        var completed = false
        let ticket = worker.submit({
            usleep(50_000)
            finished.store(true, ordering: .releasing)
        }) { completed = true }
        #expect(worker.isPending(ticket))
        #expect(!completed, "a completion ran inside submit")
        worker.wait(for: ticket)
        let ended = finished.load(ordering: .acquiring)
        #expect(ended, "wait returned before the work ended")
        #expect(completed)
        #expect(!worker.isPending(ticket))
    }

    @Test("stop lets queued work finish, joins the thread, and drops completions that did not run")
    func stopFinishesQueuedWork() throws {
        let loop = try EventLoop()
        let worker = try BackgroundWorker(loop: loop, name: "test-worker")
        let record = Record()
        var completions = 0
        for n in 0..<5 { worker.submit({ usleep(2_000); record.add(n) }) { completions += 1 } }
        worker.stop()
        #expect(record.order == Array(0..<5), "stop returned before the queued work ran")
        _ = loop.runOnce(timeout: 0)
        #expect(completions == 0, "a completion ran after stop")
    }

    @Test("the worker's thread carries the name it was given, cut to the kernel's 15 bytes, so that top -H and perf can tell it apart")
    func theThreadIsNamed() throws {
        let loop = try EventLoop()
        let worker = try BackgroundWorker(loop: loop, name: "bg-worker-name-longer-than-15")
        let seen = Mutex<String?>(nil)
        var done = false
        worker.submit({
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            seen.withLock { $0 = comm.trimmingCharacters(in: .newlines) }
        }) { done = true }
        let deadline = Double(MonotonicClock.nanoseconds()) / 1e9 + 10
        while !done && Double(MonotonicClock.nanoseconds()) / 1e9 < deadline { _ = loop.runOnce(timeout: 0.1) }
        #expect(seen.withLock { $0 } == "bg-worker-name-")
        worker.stop()
    }
}
