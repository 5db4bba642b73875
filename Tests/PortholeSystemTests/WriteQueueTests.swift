import Glibc
import PortholeSystem
import SystemTestSupport
import Testing

@Suite struct WriteQueueTests {
    /// One queued message: its stream offset, length and the identities of its fds.
    struct Sent {
        var offset: Int
        var bytes: [UInt8]
        var fds: [FileIdentity]
    }

    /// Reads one byte at a time until the socket would block, recording the
    /// stream position of the byte each fd arrived with.
    private func readByteByByte(_ socket: OwnedFD, into stream: inout [UInt8], arrivals: inout [(position: Int, fd: OwnedFD)]) throws -> Bool {
        var byte: UInt8 = 0
        while true {
            var fds: [OwnedFD] = []
            let r = try withUnsafeMutableBytes(of: &byte) { try Socket.receive(socket, into: $0, fds: &fds) }
            switch r {
            case .bytes(let n):
                #expect(n == 1)
                for fd in fds { arrivals.append((stream.count, fd)) }
                stream.append(byte)
            case .wouldBlock:
                #expect(fds.isEmpty, "fds without bytes")
                return true
            case .endOfStream:
                return false
            }
        }
    }

    /// 60 fds spread over messages (including a 20-fd message right before a
    /// 28-fd one, so no single sendmsg can take both) arrive complete, in
    /// order, each attached no later than the first byte of its message.
    @Test(arguments: [0, 4096])
    func sixtyFdsAcrossMessages(sendBuffer: Int32) throws {
        let (writer, reader) = try Socket.pair()
        if sendBuffer > 0 {
            var size = sendBuffer
            #expect(setsockopt(writer.rawValue, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0)
        }
        let plan: [(length: Int, fds: Int)] = [
            (40, 5), (12, 20), (3000, 28), (8, 0), (1, 1), (5000, 0), (20, 3), (1, 1), (1, 1), (9000, 1),
        ]
        #expect(plan.reduce(0) { $0 + $1.fds } == 60)
        let queue = WriteQueue()
        var sent: [Sent] = []
        var offset = 0
        var allQueued: [OwnedFD] = []
        for (m, item) in plan.enumerated() {
            let files = try makeMemfds(item.fds, name: "msg\(m)")
            let bytes = (0..<item.length).map { UInt8(truncatingIfNeeded: $0 &+ m &* 31) }
            sent.append(Sent(offset: offset, bytes: bytes, fds: files.map { identity(of: $0.rawValue)! }))
            queue.enqueue(bytes, fds: files)
            allQueued += files
            offset += item.length
        }
        #expect(queue.queuedBytes == offset)
        #expect(!queue.isEmpty)

        var stream: [UInt8] = []
        var arrivals: [(position: Int, fd: OwnedFD)] = []
        let deadline = monotonicNow() + 10_000_000_000
        var done = false
        var rounds = 0
        while (!done || stream.count < offset) && monotonicNow() < deadline {
            done = try queue.flush(to: writer)
            rounds += 1
            _ = try readByteByByte(reader, into: &stream, arrivals: &arrivals)
        }
        #expect(done)
        #expect(queue.isEmpty)
        #expect(queue.queuedBytes == 0)
        #expect(queue.totalWritten == UInt64(offset))
        if sendBuffer > 0 { #expect(rounds > 1, "a small send buffer should force partial writes") }

        #expect(stream == sent.flatMap(\.bytes), "bytes arrive complete and in order")
        let expectedOrder = sent.flatMap(\.fds)
        #expect(arrivals.map { identity(of: $0.fd.rawValue)! } == expectedOrder, "fds arrive complete and in order")
        // Each fd arrived with a byte at or before its message's first byte.
        var k = 0
        for (m, message) in sent.enumerated() {
            for _ in message.fds {
                guard k < arrivals.count else { break }
                #expect(arrivals[k].position <= message.offset,
                        "fd \(k) of message \(m) (offset \(message.offset)) arrived with byte \(arrivals[k].position)")
                k += 1
            }
        }
        // The queue owned the fds it was given and closed them once sent.
        #expect(allQueued.allSatisfy { $0.isClosed })
    }

    @Test func aPeerThatDoesNotReadBacksTheQueueUp() throws {
        let (writer, reader) = try Socket.pair()
        let queue = WriteQueue()
        var expected: [UInt8] = []
        var expectedFds: [FileIdentity] = []
        func enqueueBatch(_ first: Int, _ count: Int) throws {
            for i in first..<(first + count) {
                var message = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 4096)
                withUnsafeBytes(of: UInt32(i).littleEndian) { for j in 0..<4 { message[j] = $0[j] } }
                var files: [OwnedFD] = []
                if i % 97 == 0 {
                    files = try makeMemfds(2, name: "batch\(i)")
                    expectedFds += files.map { identity(of: $0.rawValue)! }
                }
                queue.enqueue(message, fds: files)
                expected += message
            }
        }
        try enqueueBatch(0, 1000) // 4 MB: far more than a socket buffer
        #expect(try queue.flush(to: writer) == false, "the socket buffer fills up")
        let stuck = queue.queuedBytes
        #expect(stuck > 0)
        #expect(queue.totalWritten > 0)
        #expect(queue.totalWritten + UInt64(stuck) == UInt64(expected.count))
        #expect(try queue.flush(to: writer) == false)
        #expect(queue.queuedBytes == stuck, "no progress while the peer does not read")
        try enqueueBatch(1000, 100)
        #expect(queue.queuedBytes == stuck + 100 * 4096)

        let input = ReadBuffer()
        let deadline = monotonicNow() + 10_000_000_000
        var flushed = false
        while (!flushed || input.count < expected.count) && monotonicNow() < deadline {
            flushed = try queue.flush(to: writer)
            #expect(try input.fill(from: reader))
        }
        #expect(flushed)
        #expect(queue.isEmpty)
        #expect(queue.totalWritten == UInt64(expected.count))
        #expect(input.count == expected.count)
        #expect(input.withUnconsumed { $0.elementsEqual(expected) }, "everything arrives in order")
        #expect(input.fds.map { identity(of: $0.rawValue)! } == expectedFds)
    }

    @Test func discardDropsBytesAndClosesQueuedFds() throws {
        let (writer, reader) = try Socket.pair()
        let queue = WriteQueue()
        let files = try makeMemfds(3, name: "discard")
        queue.enqueue([1, 2, 3], fds: files)
        #expect(queue.queuedBytes == 3)
        queue.discard()
        #expect(queue.isEmpty)
        #expect(queue.queuedBytes == 0)
        #expect(files.allSatisfy { $0.isClosed })
        #expect(try queue.flush(to: writer))
        // Later messages still go out, with their own fds only.
        let more = try makeMemfds(1, name: "after")
        let id = identity(of: more[0].rawValue)!
        queue.enqueue([7, 8], fds: more)
        #expect(try queue.flush(to: writer))
        #expect(queue.totalWritten == 2)
        let input = ReadBuffer()
        #expect(waitFor(reader.rawValue))
        #expect(try input.fill(from: reader))
        #expect(input.withUnconsumed { Array($0) } == [7, 8])
        #expect(input.fds.map { identity(of: $0.rawValue)! } == [id])
    }

    @Test func flushToABrokenSocketThrows() throws {
        let (writer, reader) = try Socket.pair()
        reader.close()
        let queue = WriteQueue()
        queue.enqueue([1, 2, 3])
        #expect(throws: SystemError.self) { try queue.flush(to: writer) }
        #expect(queue.queuedBytes == 3, "nothing is lost from the queue on an error")
    }
}
