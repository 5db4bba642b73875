import Glibc
import PortholeSystem

/// A thread that writes a link's queue to its socket, so that the loop
/// which fills the queue sleeps while megabytes go out: a guest's bulk lane.
///
/// Why: a guest loop that writes a 4K window's 33 MB a frame spends 4 ms of
/// every frame in sendmsg; to the scheduler it is a busy thread, and when it
/// loses its core every other window's commit waits with it
/// (docs/benchmarks.md, "The bulk lane"; on the link's one connection a
/// thread alone was not enough: "A write thread on the guest"). The host
/// side's counterpart is `ReceiveThreads`.
///
/// The queue (`LinkOutput`) is shared under one lock. The writer takes the
/// front of it, writes it outside the lock, and marks it written; the loop
/// queues frames meanwhile, and a small frame of a quiet channel is placed
/// right after the write in progress, as after any frame being written.
/// Memory queued by reference is read outside the lock: its owner's
/// `detach` waits for a write that reads it (`waitUntilNotWriting`). The
/// loop writes small frames itself when the writer is idle, so a keystroke
/// costs no thread hand-over. The writer tells the loop (an eventfd) when
/// the queue drains below the high-water mark or a write fails.
final class LinkWriter: @unchecked Sendable {
    private let output: LinkOutput
    private let socket: OwnedFD
    private let kind: StreamKind
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let cancel: EventSignal
    /// Raised by the writer for the loop (drained below `drainMark`, or failed).
    let loopWake: EventSignal
    private var thread: pthread_t?
    /// Queued bytes at or under which the loop hears of a drain (from
    /// congestion), and of room (for a sliced sync waiting to queue more).
    private let drainMark: Int
    private let roomMark: Int

    // Guarded by `mutex`.
    private var stopping = false
    private var idle = true
    /// Why writing stopped for good.
    private(set) var failure: String?
    private var drainPending = false
    private var roomPending = false

    /// Most bytes one gather write takes (the queue's own bytes among them
    /// are copied to the writer's scratch).
    static let writeBytes = 1 << 20

    init(output: LinkOutput, socket: OwnedFD, kind: StreamKind, drainMark: Int, roomMark: Int) throws(SystemError) {
        self.output = output
        self.socket = socket
        self.kind = kind
        self.drainMark = drainMark
        self.roomMark = roomMark
        cancel = try EventSignal()
        loopWake = try EventSignal()
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
        thread = try NativeThread.start("start a link writer thread", name: "porthole-lane") { [self] in run() }
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the queue locked: every use of the queue by the loop
    /// goes through here while a writer exists.
    func locked<R, E: Error>(_ body: (LinkOutput) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(output)
    }

    /// Loop, after queuing: writes here if the writer is idle and only a
    /// little is queued (one syscall, no hand-over), else wakes the writer.
    func queued(directUpTo small: Int) throws(SystemError) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard failure == nil, !output.isEmpty else { return }
        if idle && !output.isWriting && output.queuedBytes <= small {
            if try output.flush(to: socket, kind: kind) { return }
        }
        pthread_cond_signal(changed)
    }

    /// Loop: blocks until no write reads `owner`'s memory (one write is at
    /// most `writeBytes`).
    func waitUntilNotWriting(_ owner: AnyObject) {
        pthread_mutex_lock(mutex)
        while output.isWriting(owner) { pthread_cond_wait(changed, mutex) }
        output.detach(owner)
        pthread_mutex_unlock(mutex)
    }

    /// Loop: the news since the last call.
    func takeNews() -> (drained: Bool, room: Bool, failure: String?) {
        loopWake.reset()
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let news = (drainPending, roomPending, failure)
        drainPending = false
        roomPending = false
        return news
    }

    /// Loop: ends the thread (at its next write or wait) and joins it.
    func stop() {
        guard let t = thread else { return }
        thread = nil
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(changed)
        pthread_mutex_unlock(mutex)
        cancel.signal()
        pthread_join(t, nil)
    }

    private func run() {
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: Self.writeBytes, alignment: 16)
        defer { scratch.deallocate() }
        var iov: [iovec] = []
        iov.reserveCapacity(LinkOutput.maxIovecs)
        // Bytes written since this thread last offered its CPU.
        var sinceOffer = 0
        pthread_mutex_lock(mutex)
        while true {
            while !stopping && failure == nil && output.isEmpty {
                idle = true
                pthread_cond_wait(changed, mutex)
            }
            if stopping || failure != nil { break }
            idle = false
            let total = output.takeWrite(maxBytes: Self.writeBytes, scratch: scratch, into: &iov)
            pthread_mutex_unlock(mutex)
            var sent = 0
            var wait = false
            var failed: String?
            if total > 0 {
                do {
                    switch try iov.withUnsafeBufferPointer({ v throws(SystemError) in try socket.writeSome(gathering: v, kind: kind) }) {
                    case .wrote(let n): sent = n
                    case .wouldBlock: wait = true
                    }
                } catch {
                    failed = "write failed: \(error)"
                }
            }
            // A reader that keeps up keeps this thread writing a whole 4K
            // frame without a pause: let a woken thread have the CPU between
            // pieces (`ThreadScheduling.offerCPU`), not holding the lock.
            sinceOffer += sent
            if sinceOffer >= ThreadScheduling.bulkPiece {
                sinceOffer = 0
                ThreadScheduling.offerCPU()
            }
            pthread_mutex_lock(mutex)
            // Measured now, not at `takeWrite`: the loop may have queued
            // more during the write, taking the queue over a mark that
            // this write brings it back under — a crossing the loop, which
            // waits for it, must hear of.
            let before = output.queuedBytes
            output.finishWrite(sent: sent)
            // Owners waiting in `detach`.
            pthread_cond_broadcast(changed)
            var tell = false
            if let failed {
                failure = failed
                tell = true
            } else {
                let after = output.queuedBytes
                if before > drainMark && after <= drainMark { drainPending = true; tell = true }
                if before > roomMark && after <= roomMark { roomPending = true; tell = true }
            }
            if tell { loopWake.signal() }
            if wait {
                pthread_mutex_unlock(mutex)
                let ready = (try? Socket.waitWritable(socket, unless: cancel, timeout: -1)) ?? .ready
                pthread_mutex_lock(mutex)
                if ready == .cancelled { break }
            }
        }
        idle = true
        pthread_mutex_unlock(mutex)
    }
}
