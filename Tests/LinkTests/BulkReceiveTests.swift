import Glibc
@testable import Link
import PortholeSystem
import Synchronization
import SystemTestSupport
import Testing

/// A receive job run on the test's own thread against a socket pair filled
/// beforehand: what it takes, and what it leaves in the socket for the loop.
@Suite struct BulkReceiveTests {
    /// Memory the updates go to.
    private typealias Memory = TestMemory

    /// The receiving end after a frame's head was taken as the loop would,
    /// and the job for the rest of it.
    private struct NotAnUpdate: Error {}

    /// `cut`: only the stream's first bytes are written.
    private func handOver(_ first: LinkFrame, then rest: [LinkFrame], memory: Memory, limit: UInt64? = nil, cut: Int? = nil,
                          idleTimeout: Double = BulkReceive.defaultIdleTimeout) throws -> (BulkReceive, OwnedFD, OwnedFD) {
        let (receiving, sending) = try Socket.pair()
        Socket.setBufferSizes(receiving, bytes: 2 << 20)
        Socket.setBufferSizes(sending, bytes: 2 << 20)
        var stream = FrameCodec.encode(first)
        for f in rest { stream += FrameCodec.encode(f) }
        writeAll(sending.rawValue, Array(stream[0..<min(stream.count, cut ?? stream.count)]))
        guard case .resourceUpdate(let channel, let resource, let ranges, let data) = first else { throw NotAnUpdate() }
        let headBytes = FrameCodec.updateHeadBytes(rangeCount: ranges.count)
        var head = [UInt8](repeating: 0, count: headBytes)
        #expect(head.withUnsafeMutableBytes { read(receiving.rawValue, $0.baseAddress, headBytes) } == headBytes)
        let target = UpdateTarget(base: memory.pointer, limit: limit ?? UInt64(memory.size), owner: memory) { _ in }
        let progress = UpdateProgress(channel: channel, resource: resource, ranges: ranges, remaining: data.count, frameLength: headBytes + data.count)
        return (try BulkReceive(socket: receiving, target: target, progress: progress, limits: LinkLimits(), idleTimeout: idleTimeout),
                receiving, sending)
    }

    private func update(channel: UInt32 = 1, resource: UInt32 = 2, offset: UInt64, length: Int, value: UInt8) -> LinkFrame {
        .resourceUpdate(channel: channel, resource: resource, ranges: [UpdateRange(offset: offset, length: UInt32(length))],
                        bytes: [UInt8](repeating: value, count: length))
    }

    /// Whatever is left in the socket, decoded.
    private func leftFrames(_ socket: OwnedFD) throws -> [LinkFrame] {
        let decoder = StreamDecoder(limits: LinkLimits())
        let buffer = ReadBuffer()
        _ = try buffer.fill(from: socket)
        try buffer.withUnconsumed { try decoder.feed($0) }
        return decoder.frames
    }

    @Test func aJobTakesTheUpdatesOfItsResourceAndLeavesTheNextFrameInTheSocket() throws {
        let memory = Memory(size: 400_000)
        let (job, receiving, _) = try handOver(update(offset: 0, length: 100_000, value: 1),
                                               then: [update(offset: 100_000, length: 150_000, value: 2),
                                                      // Short ranges go through the scratch buffer.
                                                      .resourceUpdate(channel: 1, resource: 2, ranges: [UpdateRange(offset: 300_000, length: 10),
                                                                                                       UpdateRange(offset: 300_100, length: 0),
                                                                                                       UpdateRange(offset: 300_200, length: 20)],
                                                                      bytes: [UInt8](repeating: 3, count: 30)),
                                                      .creditRequest(channel: 1),
                                                      update(offset: 0, length: 100, value: 4)],
                                               memory: memory)
        job.run()
        #expect(job.ending == .handedBack)
        #expect(job.progress == nil)
        #expect(job.finishedFrames == 3 && job.startedFrames == 2)
        #expect(job.direct == 250_000 && job.copied == 30)
        #expect(memory.bytes(0..<100_000).allSatisfy { $0 == 1 })
        #expect(memory.bytes(100_000..<250_000).allSatisfy { $0 == 2 })
        #expect(memory.bytes(300_000..<300_010).allSatisfy { $0 == 3 } && memory.bytes(300_200..<300_220).allSatisfy { $0 == 3 })
        #expect(memory.bytes(300_010..<300_200).allSatisfy { $0 == 0 })
        // The credit request and the update after it wait for the loop, whole.
        #expect(try leftFrames(receiving) == [.creditRequest(channel: 1), update(offset: 0, length: 100, value: 4)])
    }

    /// A head longer than the first peek (100 ranges) is peeked again whole and taken.
    @Test func aJobTakesAnUpdateWhoseRangeTableOutrunsTheFirstPeek() throws {
        let memory = Memory(size: 400_000)
        let ranges = (0..<100).map { UpdateRange(offset: UInt64(200_000 + $0 * 100), length: 10) }
        let many = LinkFrame.resourceUpdate(channel: 1, resource: 2, ranges: ranges, bytes: [UInt8](repeating: 6, count: 1000))
        let (job, receiving, _) = try handOver(update(offset: 0, length: 100_000, value: 1), then: [many, .creditRequest(channel: 1)], memory: memory)
        #expect(FrameCodec.updateHeadBytes(rangeCount: 100) > BulkReceive.firstPeek)
        job.run()
        #expect(job.ending == .handedBack)
        #expect(job.finishedFrames == 2 && job.startedFrames == 1)
        #expect(ranges.allSatisfy { r in memory.bytes(Int(r.offset)..<Int(r.offset) + 10).allSatisfy { $0 == 6 } })
        #expect(memory.bytes(200_010..<200_100).allSatisfy { $0 == 0 })
        #expect(try leftFrames(receiving) == [.creditRequest(channel: 1)])
    }

    /// Updates it may not write are left for the loop to judge, untouched.
    @Test(arguments: ["another resource", "another channel", "a range past the limit", "a range past the end of memory"])
    func aJobLeavesAnUpdateItMayNotWriteInTheSocket(kind: String) throws {
        let memory = Memory(size: 300_000)
        let next: LinkFrame = switch kind {
        case "another resource": update(resource: 3, offset: 0, length: 100, value: 9)
        case "another channel": update(channel: 5, offset: 0, length: 100, value: 9)
        case "a range past the limit": update(offset: 199_950, length: 100, value: 9)
        default: update(offset: UInt64.max - 50, length: 100, value: 9)
        }
        let (job, receiving, _) = try handOver(update(offset: 0, length: 70_000, value: 1), then: [next], memory: memory, limit: 200_000)
        job.run()
        #expect(job.ending == .handedBack)
        #expect(job.finishedFrames == 1 && job.startedFrames == 0)
        #expect(memory.bytes(70_000..<300_000).allSatisfy { $0 == 0 })
        #expect(try leftFrames(receiving) == [next])
    }

    @Test func aJobWithNothingMoreToReadGivesTheLinkBackInTheMiddleOfAFrame() throws {
        let memory = Memory(size: 300_000)
        // The head and 50_000 bytes of data; the rest never comes.
        let (job, _, sending) = try handOver(update(offset: 0, length: 200_000, value: 7), then: [], memory: memory,
                                             cut: FrameCodec.updateHeadBytes(rangeCount: 1) + 50_000)
        job.run()
        #expect(job.ending == .idle)
        #expect(job.progress?.remaining == 150_000)
        #expect(job.receivedBytes == 50_000 && job.finishedFrames == 0)
        #expect(memory.bytes(0..<50_000).allSatisfy { $0 == 7 } && memory.bytes(50_000..<50_001) == [0])
        withExtendedLifetime(sending) {}
    }

    /// A peer that sends a byte now and then, never pausing long enough
    /// for the idle timeout (here 500 ms, so that a loaded machine's late
    /// writer does not end the job first), has the thread only for the
    /// job's time budget.
    @Test func aPeerTricklingItsBytesHoldsAThreadOnlyForTheTimeBudget() throws {
        let memory = Memory(size: 300_000)
        let (job, _, sending) = try handOver(update(offset: 0, length: 200_000, value: 5), then: [], memory: memory,
                                             cut: FrameCodec.updateHeadBytes(rangeCount: 1) + 1000, idleTimeout: 0.5)
        let writer = sending.rawValue
        let stop = Atomic<Bool>(false)
        let trickle = try TestThread {
            var byte: UInt8 = 5
            // At most about 2 s: a job that ignored its budget then ends idle, and the test fails rather than hangs.
            for _ in 0..<4000 where !stop.load(ordering: .relaxed) {
                _ = write(writer, &byte, 1)
                usleep(500)
            }
        }
        let start = MonotonicClock.nanoseconds()
        job.run()
        let took = MonotonicClock.nanoseconds() - start
        stop.store(true, ordering: .relaxed)
        trickle.join()
        #expect(job.ending == .timeUp)
        #expect(job.progress != nil && job.receivedBytes >= 1000)
        #expect(took >= BulkReceive.timeBudget && took < BulkReceive.timeBudget + 400_000_000, "the job lasted \(took) ns")
    }

    @Test func aCancelledJobReturnsAtItsNextRead() throws {
        let memory = Memory(size: 300_000)
        let (job, _, _) = try handOver(update(offset: 0, length: 100_000, value: 1), then: [], memory: memory)
        job.cancel()
        job.run()
        #expect(job.ending == .cancelled)
        #expect(job.receivedBytes == 0)
    }

    @Test func descriptorsInTheMiddleOfAnUpdateEndTheJob() throws {
        let memory = Memory(size: 300_000)
        let (job, _, sending) = try handOver(update(offset: 0, length: 100_000, value: 1), then: [], memory: memory,
                                             cut: FrameCodec.updateHeadBytes(rangeCount: 1) + 30_000)
        // More of the update's bytes, with an fd attached.
        let (a, _) = try Socket.pair()
        let sent = try [UInt8](repeating: 1, count: 10).withUnsafeBytes { b throws(SystemError) in try Socket.send(sending, b, fds: [a.rawValue]) }
        #expect(sent == 10)
        job.run()
        #expect(job.ending == .fileDescriptors)
    }
}

/// A thread running `body` once, joined by the test.
private final class TestThread {
    private var thread = pthread_t()

    init(_ body: @escaping @Sendable () -> Void) throws {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        let box = Unmanaged.passRetained(Box(body))
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
        guard rc == 0 else { box.release(); throw SystemError("pthread_create", code: rc) }
    }

    func join() { pthread_join(thread, nil) }
}
