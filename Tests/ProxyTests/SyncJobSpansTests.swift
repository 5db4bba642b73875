import Link
import PortholeSystem
@testable import Proxy
import Sharing
import SystemTestSupport
import Testing

/// A commit's sync starts from the pool byte spans its damage covers; a
/// buffer the client draws into the region itself has none to work out.
@Suite struct SyncJobSpansTests {
    private func streamBuffer(format: UInt32 = 1, yInverted: Bool = false) throws -> ShmBuffer {
        let pool = try StreamPool(resourceID: 1, client: .shm(try Memfd.create(name: "spans", size: 1 << 16)), size: 1 << 16)
        var b = ShmBuffer(pool: pool, offset: 128, width: 32, height: 40, stride: 32 * 4 + 16, format: format)
        b.yInverted = yInverted
        return b
    }

    @Test("a cooperative buffer's commit has nothing to sync, a copied buffer's has its damage")
    func cooperativeCommitsHaveNoSpans() throws {
        let directory = try TemporaryDirectory(prefix: "porthole-syncjob")
        defer { directory.remove() }
        let region = GuestRegion(region: try SharedRegion.host(path: directory.file("region"), size: 2 << 20), counters: LinkCounters())
        let pool = RegionPool(cooperativeResourceID: 1, region: region, size: 1 << 16)
        let damage = [Rect(x: 1, y: 2, width: 3, height: 4)]
        let cooperative = SyncJob(buffer: ShmBuffer(pool: pool, offset: 0, width: 32, height: 40, stride: 128, format: 1),
                                  bufferID: 1, rects: damage, exclusive: true)
        #expect(cooperative.slices.isDone)
        let copied = SyncJob(buffer: try streamBuffer(), bufferID: 2, rects: damage, exclusive: true)
        #expect(copied.slices.remainingBytes == 4 * 3 * 4)
    }

    /// The list is sized from `damagedSpanCount`: it must agree with the
    /// spans given, whatever the rectangles, format and row order.
    @Test(arguments: [(UInt32(1), false), (1, true), (0x3432_5241, false), (0xFFFF_FFF0, false)])
    func theSpanCountAgreesWithTheSpans(format: UInt32, yInverted: Bool) throws {
        let b = try streamBuffer(format: format, yInverted: yInverted)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        for _ in 0..<200 {
            let rects = (0..<next(4)).map { _ in
                let x = next(32), y = next(40)
                return Rect(x: x, y: y, width: next(33 - x), height: next(41 - y))
            } + (next(4) == 0 ? [Rect(x: 0, y: next(40), width: 32, height: 1)] : [])
            var given = 0
            b.forEachDamagedSpan(rects) { _, _ in given += 1 }
            #expect(b.damagedSpanCount(rects) == given, "\(rects)")
        }
    }
}
