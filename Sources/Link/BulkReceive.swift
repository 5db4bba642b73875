import PortholeSystem
import Synchronization

/// The rest of a `resourceUpdate` being received straight into its target,
/// and the updates of the same resource right behind it, read on a receive
/// thread (`ReceiveThreads`) while the loop sleeps.
///
/// Why: a loop that spends 4 ms of every 4K frame in recv is a busy thread,
/// and on a full machine every other guest's commit waits with it whenever
/// it loses its core (docs/benchmarks.md, "Receive threads"). Handed over,
/// the loop is woken at once for the next small frame of any link.
///
/// What keeps it safe with a hostile guest: the loop hands over a target it
/// has checked (`LinkChannel.updateTarget`) and stops reading the socket
/// until the job is back. The thread writes only below the target's
/// `limit`: it takes a further frame only if it is an update of the same
/// channel and resource whose head decodes with the usual checks and whose
/// ranges all fit, and it peeks at that head first, so that any other frame
/// (or a malformed one) is left in the socket for the loop to read and judge.
/// It never touches the loop's objects: the target's owner stays with the
/// loop, which keeps the mapping (and the socket) open until the job returns.
/// The mapping moves only for a peer's `resourceExtend` or a read-only file
/// being sealed for its message, both frames that come later in this same
/// stream, which the loop reads only once the job is back. A peer that
/// trickles its bytes holds a thread at most `timeBudget`.
final class BulkReceive: @unchecked Sendable {
    /// Why the thread gave the link back.
    enum Ending: Equatable {
        /// The next frame is not one it takes (or a budget ran out): the
        /// loop reads on from there.
        case handedBack
        /// Nothing arrived for `idleTimeout` seconds.
        case idle
        /// The job ran for `timeBudget` inside one frame (a peer sending
        /// slowly): the loop finishes the frame.
        case timeUp
        /// The loop is closing the link.
        case cancelled
        /// The peer ended the stream (the loop reads the end itself).
        case endOfStream
        case readFailed(String)
        /// The peer sent descriptors, which a link never carries.
        case fileDescriptors
    }

    // Fixed when handed over.
    private let socket: OwnedFD
    private let base: UnsafeMutableRawPointer
    private let limit: UInt64
    /// The channel and resource of the frame handed over: the only ones it takes.
    let channel: UInt32
    let resource: UInt32
    private let limits: LinkLimits
    private let wake: EventSignal
    private let stop = Atomic<Bool>(false)
    private let idleTimeout: Double

    // The thread's until the job returns; the loop's after.
    /// The frame being received; nil between frames.
    private(set) var progress: UpdateProgress?
    /// Frames finished (the handed-over one included) and frames whose head
    /// the thread read.
    private(set) var finishedFrames = 0
    private(set) var startedFrames = 0
    /// Bytes read from the socket, and of them the data received straight
    /// into place and through the scratch buffer.
    private(set) var receivedBytes = 0
    private(set) var direct = 0
    private(set) var copied = 0
    private(set) var ending = Ending.handedBack

    /// Ranges shorter than the loop's `LinkEndpoint.directReceiveMinimum`
    /// (scattered damage) go through a scratch buffer of this size: one
    /// recv for many short ranges.
    static let scratchBytes = 65536
    /// Most data taken in one job, and longest it lasts (ns), so that the
    /// threads go round the busy links and a slow one gives its thread back.
    static let budget = 64 << 20
    static let timeBudget: UInt64 = 20_000_000
    /// How long the thread waits for more before giving the link back, s.
    static let defaultIdleTimeout = 0.002
    /// Longest head peeked at: a frame of more ranges goes to the loop.
    static let maxHeadBytes = 16384
    /// Bytes peeked first: a head of up to 62 ranges.
    static let firstPeek = 1024

    init(socket: OwnedFD, target: UpdateTarget, progress: UpdateProgress, limits: LinkLimits,
         idleTimeout: Double = BulkReceive.defaultIdleTimeout) throws(SystemError) {
        self.idleTimeout = idleTimeout
        self.socket = socket
        base = target.base
        limit = target.limit
        channel = progress.channel
        resource = progress.resource
        self.limits = limits
        self.progress = progress
        wake = try EventSignal()
    }

    /// Loop: asks the thread to return as soon as it can (at its next read).
    func cancel() {
        stop.store(true, ordering: .releasing)
        wake.signal()
    }

    /// Thread: receives until one of the endings.
    func run() {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.scratchBytes, alignment: 16)
        defer { scratch.deallocate() }
        let head = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.maxHeadBytes, alignment: 16)
        defer { head.deallocate() }
        let deadline = MonotonicClock.nanoseconds() + Self.timeBudget
        // Where `receivedBytes` stood when this thread last offered its CPU.
        var offeredAt = receivedBytes
        while true {
            if stop.load(ordering: .acquiring) { ending = .cancelled; return }
            if MonotonicClock.nanoseconds() >= deadline { ending = progress == nil ? .handedBack : .timeUp; return }
            let outcome: Step
            if var p = progress {
                outcome = receiveData(&p, scratch: scratch)
                progress = p.isComplete ? nil : p
                if p.isComplete { finishedFrames += 1 }
            } else {
                guard receivedBytes < Self.budget else { ending = .handedBack; return }
                outcome = takeNextHead(head)
            }
            switch outcome {
            case .progressed:
                // A writer that keeps up keeps this thread reading a whole
                // 4K frame: let a woken thread have the CPU between pieces
                // (`ThreadScheduling.offerCPU`).
                if receivedBytes - offeredAt >= ThreadScheduling.bulkPiece {
                    offeredAt = receivedBytes
                    ThreadScheduling.offerCPU()
                }
                continue
            case .wait:
                switch (try? Socket.waitReadable(socket, unless: wake, timeout: idleTimeout)) ?? .ready {
                case .ready: continue
                case .cancelled: ending = .cancelled; return
                case .timedOut: ending = .idle; return
                }
            case .end(let e):
                ending = e
                return
            }
        }
    }

    private enum Step {
        case progressed
        case wait
        case end(Ending)
    }

    /// One read of the current frame's data.
    private func receiveData(_ p: inout UpdateProgress, scratch: UnsafeMutableRawBufferPointer) -> Step {
        let (offset, left) = p.next
        let straight = left >= LinkEndpoint.directReceiveMinimum
        let into = straight
            ? UnsafeMutableRawBufferPointer(start: base + offset, count: left)
            : UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(scratch.count, p.remaining)])
        switch read(into) {
        case .bytes(let n):
            receivedBytes += n
            if straight {
                p.advance(n)
                direct += n
            } else {
                _ = p.scatter(UnsafeRawBufferPointer(rebasing: into[0..<n]), into: base)
                copied += n
            }
            return .progressed
        case .wouldBlock: return .wait
        case .end(let e): return .end(e)
        }
    }

    /// Peeks at the next frame; takes its head if it is an update this job
    /// may receive (see the type's comment), else leaves it for the loop.
    private func takeNextHead(_ head: UnsafeMutableRawBufferPointer) -> Step {
        // One peek shows the heads of the frames `sendUpdate` makes (a few
        // ranges); a second only for a longer range table.
        guard let have = peek(UnsafeMutableRawBufferPointer(rebasing: head[0..<Self.firstPeek])) else { return .end(.handedBack) }
        if have == 0 { return .wait }
        guard have >= FrameCodec.updateHeadBytes(rangeCount: 0),
              let count = FrameCodec.updateRangeCount(UnsafeRawBufferPointer(rebasing: head[0..<have]), limits: limits) else { return .end(.handedBack) }
        let headBytes = FrameCodec.updateHeadBytes(rangeCount: count)
        guard headBytes <= head.count, headBytes <= have || peek(UnsafeMutableRawBufferPointer(rebasing: head[0..<headBytes])) == headBytes,
              let next = try? FrameCodec.decodeUpdateHead(UnsafeRawBufferPointer(rebasing: head[0..<headBytes]), limits: limits),
              next.channel == channel, next.resource == resource,
              next.ranges.allSatisfy({ $0.fits(within: limit) }) else { return .end(.handedBack) }
        // Peeked, so all there: this read takes exactly the head.
        switch read(UnsafeMutableRawBufferPointer(rebasing: head[0..<headBytes])) {
        case .bytes(let n) where n == headBytes:
            receivedBytes += n
        case .bytes:
            // A stream socket returns what a peek showed; if it ever did
            // not, the frame boundary is lost.
            return .end(.readFailed("a frame head shorter than peeked"))
        case .wouldBlock: return .end(.readFailed("a peeked frame head went missing"))
        case .end(let e): return .end(e)
        }
        startedFrames += 1
        let data = next.ranges.reduce(0) { $0 + Int($1.length) }
        let p = UpdateProgress(channel: next.channel, resource: next.resource, ranges: next.ranges,
                               remaining: data, frameLength: headBytes + data)
        if p.isComplete { finishedFrames += 1 } else { progress = p }
        return .progressed
    }

    private enum Read {
        case bytes(Int)
        case wouldBlock
        case end(Ending)
    }

    /// One recvmsg; fds that came with it end the job.
    private func read(_ into: UnsafeMutableRawBufferPointer) -> Read {
        var fds: [OwnedFD] = []
        do {
            let r = try Socket.receive(socket, into: into, fds: &fds)
            if !fds.isEmpty { return .end(.fileDescriptors) }
            switch r {
            case .bytes(let n): return .bytes(n)
            case .wouldBlock: return .wouldBlock
            case .endOfStream: return .end(.endOfStream)
            }
        } catch {
            return .end(.readFailed("read failed: \(error)"))
        }
    }

    /// Bytes a peek showed (0: none yet); nil at the end of the stream or
    /// on an error, which the loop then reads for itself.
    private func peek(_ into: UnsafeMutableRawBufferPointer) -> Int? {
        switch try? Socket.peek(socket, into: into) {
        case .bytes(let n)?: return n
        case .wouldBlock?: return 0
        default: return nil
        }
    }
}
