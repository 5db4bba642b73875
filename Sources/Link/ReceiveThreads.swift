import PortholeSystem

/// The threads a host's links receive long update data on (`BulkReceive`),
/// shared by all its guests: how many is fixed by the host, not by how many
/// guests send, so a guest cannot make the host start more. A link that
/// finds them all busy receives on the loop as before. Only the loop's
/// thread calls into this class.
public final class ReceiveThreads {
    public let count: Int
    /// Started with the host: a fixed cost (a thread and an eventfd each),
    /// not one that grows with use.
    private var workers: [BackgroundWorker] = []
    /// Jobs handed out (tests read it).
    public private(set) var jobs: UInt64 = 0

    /// Starts `count` threads (0: none; every link receives on the loop).
    /// Those that cannot start are left out, with a warning.
    public init(loop: EventLoop, count: Int) {
        self.count = max(0, count)
        for _ in 0..<self.count {
            do { workers.append(try BackgroundWorker(loop: loop, name: "porthole-recv")) } catch {
                Log.warning("cannot start a receive thread: \(error); \(workers.count) of \(self.count) running")
                break
            }
        }
    }

    /// Runs `job` on an idle thread and `completion` on the loop when it
    /// returns; nil when every thread is busy (or none could start).
    func start(_ job: BulkReceive, completion: @escaping () -> Void) -> (worker: BackgroundWorker, ticket: BackgroundWorker.Ticket)? {
        guard let worker = idleWorker() else { return nil }
        jobs += 1
        let ticket = worker.submit({ job.run() }, completion: completion)
        return (worker, ticket)
    }

    private func idleWorker() -> BackgroundWorker? {
        workers.first(where: { $0.pendingCount == 0 })
    }

    /// Ends the threads (after their jobs, which a closing link cancels first).
    public func stop() {
        for worker in workers { worker.stop() }
        workers.removeAll()
    }
}
