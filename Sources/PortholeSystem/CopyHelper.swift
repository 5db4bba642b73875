import Glibc
import Synchronization

/// A second thread that takes a share of each large copy the copy thread
/// makes, so that a 4K frame is copied by two cores at once.
///
/// Why it pays on a machine whose memory one core cannot saturate: a frame
/// the client has just painted is partly dirty in the other core's cache,
/// and one core copying it waits on the write-backs as well as on its own
/// reads; two cores keep twice as many misses in flight. While a region
/// frame is copied its client waits for the frame callback, so the second
/// core is usually idle (docs/benchmarks.md, "Two cores on one frame").
///
/// The copy is cut into chunks that either thread claims in turn. The
/// calling thread never waits for the helper to *start*: a helper that is
/// not scheduled (a busy machine) claims nothing and the caller copies every
/// chunk itself. It waits only for chunks the helper has claimed and not
/// finished, each a fraction of a millisecond. The caller must not let the
/// target be reused before `copy` returns, which it guarantees by returning
/// only once every chunk is written.
///
/// The helper runs at nice 19: it is there to use a core nothing else
/// wants, and any other thread that wakes takes the core from it.
///
/// One caller at a time (the copy thread); the helper sleeps between copies.
public final class CopyHelper: @unchecked Sendable {
    /// Copies below this stay on the calling thread; a 1080p frame (7.9
    /// MiB) is just under it. Measured here: 1080p frames gained nothing
    /// with one window (and lost 3-4% of their rate with eight, before the
    /// helper was kept to lone windows); 2560x1440 frames (14 MiB) gained
    /// 3% alone, 4K frames (32 MiB) 4-8%.
    public static let minimumBytes = 8 << 20
    /// The unit the two threads claim: small enough that the caller waits
    /// little for a chunk the helper is in the middle of (about 20 µs of
    /// copying), large enough that claiming costs nothing beside it.
    static let chunkBytes = 512 << 10

    /// What the helper did in one copy.
    public struct Share: Sendable, Equatable {
        /// Bytes the helper copied.
        public var bytes = 0
        /// The helper's reads of the guarded range faulted (its file shrank);
        /// the range then holds zeros, as after the caller's own fault.
        public var faulted = false

        public init(bytes: Int = 0, faulted: Bool = false) {
            self.bytes = bytes
            self.faulted = faulted
        }
    }

    /// One copy, cut into chunks.
    private final class Job: @unchecked Sendable {
        let target: UnsafeMutableRawPointer
        let source: UnsafeRawPointer
        let count: Int
        let chunks: Int
        /// The range the helper must read under `MemoryFaultGuard`, if any.
        let guarded: UnsafeRawBufferPointer?
        let nextChunk = Atomic<Int>(0)
        let doneChunks = Atomic<Int>(0)
        let helperBytes = Atomic<Int>(0)
        let helperFaulted = Atomic<Bool>(false)
        /// Posted by the helper when it writes the last chunk.
        let finished: UnsafeMutablePointer<sem_t>

        init(target: UnsafeMutableRawPointer, source: UnsafeRawPointer, count: Int, guarded: UnsafeRawBufferPointer?) {
            self.target = target
            self.source = source
            self.count = count
            self.guarded = guarded
            chunks = (count + CopyHelper.chunkBytes - 1) / CopyHelper.chunkBytes
            finished = .allocate(capacity: 1)
            sem_init(finished, 0, 0)
        }

        deinit {
            sem_destroy(finished)
            finished.deallocate()
        }

        /// Claims and copies chunks until none is left. The helper counts
        /// its bytes, and a fault in its guarded reads, before it counts the
        /// chunk done, so the caller reads both once every chunk is done;
        /// it posts `finished` on writing the last chunk.
        func copyChunks(isHelper: Bool) {
            while true {
                let chunk = nextChunk.add(1, ordering: .relaxed).oldValue
                guard chunk < chunks else { return }
                let start = chunk * CopyHelper.chunkBytes
                let length = min(CopyHelper.chunkBytes, count - start)
                StreamingCopy.copy(to: target + start, from: source + start, count: length)
                if isHelper {
                    helperBytes.add(length, ordering: .relaxed)
                    if guarded != nil && MemoryFaultGuard.hasFaulted { helperFaulted.store(true, ordering: .relaxed) }
                }
                // Releasing: the chunk's bytes (fenced by the copy) and the
                // helper's counts before the chunk is seen done.
                let done = doneChunks.add(1, ordering: .releasing).newValue
                if isHelper && done == chunks { sem_post(finished) }
            }
        }

        /// The helper's part: under the fault guard when the source can
        /// shrink, and nothing at all if the guard cannot be set up.
        func help() {
            guard let guarded, let base = guarded.baseAddress else {
                copyChunks(isHelper: true)
                return
            }
            _ = try? MemoryFaultGuard.reading(base, length: guarded.count) { copyChunks(isHelper: true) }
        }
    }

    private let current = Mutex<Job?>(nil)
    private let stopping = Atomic<Bool>(false)
    /// Counts copies posted (and the stop); the helper sleeps on it.
    private let wake: UnsafeMutablePointer<sem_t>
    private let thread = Mutex<pthread_t?>(nil)

    public init() throws(SystemError) {
        wake = .allocate(capacity: 1)
        sem_init(wake, 0, 0)
        // Unowned: deinit joins the thread (`stop`) before self is gone.
        let handle = try NativeThread.start("start a copy helper thread", name: "porthole-helper") { [unowned(unsafe) self] in self.serve() }
        thread.withLock { $0 = handle }
    }

    deinit {
        stop()
        sem_destroy(wake)
        wake.deallocate()
    }

    /// Ends the helper thread (after the copy in hand, if any).
    public func stop() {
        guard let handle = thread.withLock({ t -> pthread_t? in defer { t = nil }; return t }) else { return }
        stopping.store(true, ordering: .sequentiallyConsistent)
        sem_post(wake)
        pthread_join(handle, nil)
    }

    /// Whether this machine has a second CPU for a helper to run on.
    public static var isWorthwhile: Bool { sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 }

    /// Copies `count` bytes from `source` to `target` (streaming stores), the
    /// helper taking chunks while it can; returns once every byte is written.
    /// `guarded`: the mapping `source` lies in, when another process can
    /// shrink it: the helper reads under `MemoryFaultGuard` as the caller
    /// must (the caller guards its own reads).
    public func copy(to target: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int,
                     guarded: UnsafeRawBufferPointer?) -> Share {
        guard count >= Self.minimumBytes else {
            StreamingCopy.copy(to: target, from: source, count: count)
            return Share()
        }
        let job = Job(target: target, source: source, count: count, guarded: guarded)
        current.withLock { $0 = job }
        sem_post(wake)
        job.copyChunks(isHelper: false)
        // Acquiring: the helper's chunks are written once counted.
        while job.doneChunks.load(ordering: .acquiring) < job.chunks {
            while sem_wait(job.finished) != 0 {}
        }
        current.withLock { if $0 === job { $0 = nil } }
        return Share(bytes: job.helperBytes.load(ordering: .relaxed), faulted: job.helperFaulted.load(ordering: .relaxed))
    }

    /// The helper's body: on each wake-up, take a share of the copy in hand.
    private func serve() {
        try? ThreadScheduling.yieldToOthers()
        while true {
            while sem_wait(wake) != 0 {}
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            current.withLock { $0 }?.help()
        }
    }
}
