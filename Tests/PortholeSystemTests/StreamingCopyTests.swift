import Glibc
import PortholeSystem
import Testing

@Suite("Streaming copy") struct StreamingCopyTests {
    @Test("copies every byte, and only those, for any alignment of either end and any length around the threshold",
          arguments: [0, 1, 31, 32, 33, 127, 128, 129, StreamingCopy.threshold - 1, StreamingCopy.threshold,
                      StreamingCopy.threshold + 1, StreamingCopy.threshold + 97, 3 << 20])
    func copiesExactly(count: Int) {
        let room = count + 256
        let source = UnsafeMutableRawPointer.allocate(byteCount: room, alignment: 64)
        let target = UnsafeMutableRawPointer.allocate(byteCount: room, alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        for i in 0..<room { source.storeBytes(of: UInt8(truncatingIfNeeded: i &* 7 &+ 3), toByteOffset: i, as: UInt8.self) }
        for (s, t) in [(0, 0), (1, 0), (0, 5), (13, 29), (32, 1), (63, 63)] {
            memset(target, 0xEE, room)
            StreamingCopy.copy(to: target + t, from: source + s, count: count)
            #expect(memcmp(target + t, source + s, count) == 0, "source +\(s), target +\(t): bytes differ")
            let before = UnsafeRawBufferPointer(start: target, count: t)
            let after = UnsafeRawBufferPointer(start: target + t + count, count: room - t - count)
            #expect(before.allSatisfy { $0 == 0xEE } && after.allSatisfy { $0 == 0xEE },
                    "source +\(s), target +\(t): a byte outside the copy changed")
        }
    }

    @Test("a copy in pieces copies every byte and calls back once between each two pieces, never before the first or after the last",
          arguments: [0, 1, ThreadScheduling.bulkPiece - 1, ThreadScheduling.bulkPiece, ThreadScheduling.bulkPiece + 1, 3 * ThreadScheduling.bulkPiece + 5])
    func copiesInPieces(count: Int) {
        let source = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        let target = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        for i in stride(from: 0, to: count, by: 1) { source.storeBytes(of: UInt8(truncatingIfNeeded: i &* 13 &+ 1), toByteOffset: i, as: UInt8.self) }
        memset(target, 0, max(count, 1))
        var calls = 0
        var copiedAtCall: [Int] = []
        StreamingCopy.copyInPieces(to: target, from: source, count: count) {
            calls += 1
            // Everything before this call's piece is in place already.
            let done = calls * ThreadScheduling.bulkPiece
            copiedAtCall.append(memcmp(target, source, done) == 0 ? done : -1)
        }
        let pieces = (count + ThreadScheduling.bulkPiece - 1) / ThreadScheduling.bulkPiece
        #expect(calls == max(0, pieces - 1))
        #expect(copiedAtCall == (0..<calls).map { ($0 + 1) * ThreadScheduling.bulkPiece })
        #expect(memcmp(target, source, count) == 0)
    }
}

