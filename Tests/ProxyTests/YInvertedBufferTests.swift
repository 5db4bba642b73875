import PortholeSystem
@testable import Proxy
import Testing

/// A y-inverted buffer (linux-dmabuf's y_invert: rows bottom first) is
/// copied row by row, each row of the host's copy read from its mirrored row.
@Suite struct YInvertedBufferTests {
    func buffer(yInverted: Bool) throws -> ShmBuffer {
        let pool = try StreamPool(resourceID: 1, client: .shm(try Memfd.create(name: "rows", size: 4096)), size: 4096)
        var b = ShmBuffer(pool: pool, offset: 64, width: 4, height: 8, stride: 16, format: 1)
        b.yInverted = yInverted
        return b
    }

    func spans(_ b: ShmBuffer, _ rects: [Rect]) -> [(start: Int, end: Int, source: Int)] {
        var out: [(Int, Int, Int)] = []
        b.forEachDamagedSpan(rects) { start, end in out.append((start, end, start + b.sourceShift(at: start))) }
        return out
    }

    @Test func eachRowOfTheCopyIsReadFromItsMirroredRow() throws {
        let got = spans(try buffer(yInverted: true), [Rect(x: 0, y: 1, width: 4, height: 3)])
        // Rows 1, 2, 3 of 8 come from rows 6, 5, 4; the buffer starts at 64, rows are 16 bytes.
        #expect(got.map(\.start) == [80, 96, 112])
        #expect(got.map(\.end) == [96, 112, 128])
        #expect(got.map(\.source) == [64 + 6 * 16, 64 + 5 * 16, 64 + 4 * 16])
    }

    @Test func partOfARowKeepsItsColumns() throws {
        let got = spans(try buffer(yInverted: true), [Rect(x: 1, y: 0, width: 2, height: 1)])
        #expect(got.count == 1 && got[0].start == 64 + 4 && got[0].end == 64 + 12 && got[0].source == 64 + 7 * 16 + 4)
    }

    @Test func anUprightBufferIsReadInPlaceInWholeRows() throws {
        let got = spans(try buffer(yInverted: false), [Rect(x: 0, y: 1, width: 4, height: 3)])
        #expect(got.count == 1 && got[0].start == 80 && got[0].end == 128 && got[0].source == 80)
    }
}
