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
}
