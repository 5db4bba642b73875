import CPorthole
import Glibc
import Synchronization

/// A thread beside an event loop for bulk work (copying a 4K frame), so
/// that the loop's thread does little and sleeps between events.
///
/// Why it matters even on two cores, where it adds no copying speed: a loop
/// that copies 1.4 ms of every frame is a busy thread to the scheduler, and
/// when it loses its core to another busy thread it waits for the other's
/// time slice to end; every other window's commit then waits with it. A loop
/// that only hands the copy over and sleeps is woken, and scheduled, at once
/// (docs/benchmarks.md, "The copy off the loop"). The worker keeps the
/// loop's priority: a lower one starved the copies on a busy machine.
///
/// The loop submits work with a completion; the completion runs on the
/// loop's thread, woken through an eventfd. Work runs one at a time, in
/// submission order. Only the loop's thread calls into this class.
public final class BackgroundWorker {
    /// One submission.
    public typealias Ticket = UInt64

    /// What the loop and the thread share: the queue, the finished tickets
    /// and the eventfd that tells the loop about them.
    private final class Shared: @unchecked Sendable {
        struct State {
            var queue: [(Ticket, @Sendable () -> Void)] = []
            var done: [Ticket] = []
            var stopping = false
        }
        let state = Mutex(State())
        /// Counts queued work (and the stop); the thread sleeps on it.
        let pending: UnsafeMutablePointer<sem_t>
        let wake: EventSignal

        init(wake: EventSignal) {
            self.wake = wake
            pending = .allocate(capacity: 1)
            sem_init(pending, 0, 0)
        }

        deinit {
            sem_destroy(pending)
            pending.deallocate()
        }

        /// The thread's body: run work in order until stopped.
        func run() {
            while true {
                while sem_wait(pending) != 0 {}
                let next = state.withLock { s -> (Ticket, @Sendable () -> Void)? in
                    s.queue.isEmpty ? nil : s.queue.removeFirst()
                }
                guard let (ticket, work) = next else {
                    if state.withLock({ $0.stopping }) { return }
                    continue
                }
                work()
                state.withLock { $0.done.append(ticket) }
                wake.signal()
            }
        }
    }

    private let loop: EventLoop
    private let wake: EventSignal
    private let shared: Shared
    private var token: EventLoop.Token?
    private var thread: pthread_t?
    private var completions: [Ticket: () -> Void] = [:]
    private var nextTicket: Ticket = 1

    /// `name`: the thread's name (`NativeThread`).
    public init(loop: EventLoop, name: String) throws(SystemError) {
        self.loop = loop
        wake = try EventSignal()
        shared = Shared(wake: wake)
        token = try loop.register(wake.rawValue, events: .readable) { [weak self] _ in self?.drain() }
        let shared = self.shared
        thread = try NativeThread.start("start a worker thread", name: name) { shared.run() }
    }

    deinit { stop() }

    /// Ends the thread after the work already queued; completions not yet
    /// run are dropped.
    public func stop() {
        guard let t = thread else { return }
        thread = nil
        shared.state.withLock { $0.stopping = true }
        sem_post(shared.pending)
        pthread_join(t, nil)
        if let token { loop.unregister(token) }
        token = nil
        completions.removeAll()
    }

    /// Queues `work` for the thread; `completion` runs on the loop's thread
    /// once it is done.
    @discardableResult
    public func submit(_ work: @escaping @Sendable () -> Void, completion: @escaping () -> Void) -> Ticket {
        let ticket = nextTicket
        nextTicket += 1
        completions[ticket] = completion
        shared.state.withLock { $0.queue.append((ticket, work)) }
        sem_post(shared.pending)
        return ticket
    }

    /// Blocks the loop's thread until `ticket`'s work is done and runs the
    /// completions of everything finished by then (that one included). For
    /// the rare cases that cannot wait for the loop: a flush forced by an
    /// error, a connection closing.
    public func wait(for ticket: Ticket) {
        while completions[ticket] != nil {
            var p = pollfd(fd: wake.rawValue, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 100)
            drain()
        }
    }

    /// Submissions whose completion has not run yet.
    public var pendingCount: Int { completions.count }

    /// Whether `ticket`'s completion has not run yet.
    public func isPending(_ ticket: Ticket) -> Bool { completions[ticket] != nil }

    private func drain() {
        wake.reset()
        let done = shared.state.withLock { s -> [Ticket] in
            defer { s.done.removeAll() }
            return s.done
        }
        for ticket in done {
            completions.removeValue(forKey: ticket)?()
        }
    }
}
