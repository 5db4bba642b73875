import PortholeSystem
import Testing
@testable import Proxy

/// The pool byte ranges whose mirror bytes are unknown (sent straight from
/// the client's memory).
@Suite struct StaleRangeTests {
    /// A stale-range set, as a stream pool keeps it.
    private final class Ranges {
        var r = StaleRanges()
        var stale: [Range<Int>] { r.ranges }
        func isStale(_ x: Range<Int>) -> Bool { r.overlaps(x) }
        func markStale(_ x: Range<Int>) { r.insert(x) }
        func clearStale(_ x: Range<Int>) { r.remove(x) }
        func takeStale(in x: Range<Int>) -> [Range<Int>] { r.take(in: x) }
    }

    private func pool() throws -> Ranges { Ranges() }

    @Test func markedRangesAreStaleAndOthersAreNot() throws {
        let p = try pool()
        #expect(!p.isStale(0..<4096))
        p.markStale(100..<200)
        p.markStale(300..<400)
        #expect(p.isStale(150..<160))
        #expect(p.isStale(0..<101))
        #expect(p.isStale(399..<1000))
        #expect(!p.isStale(200..<300), "the gap between two buffers stays known")
        #expect(!p.isStale(0..<100) && !p.isStale(400..<4096))
    }

    @Test func touchingAndOverlappingRangesMerge() throws {
        let p = try pool()
        p.markStale(100..<200)
        p.markStale(200..<300)
        p.markStale(250..<500)
        p.markStale(1000..<1100)
        #expect(p.stale == [100..<500, 1000..<1100])
        p.markStale(0..<2000)
        #expect(p.stale == [0..<2000])
    }

    @Test func clearingAWholeBufferLeavesItsNeighboursStale() throws {
        let p = try pool()
        p.markStale(0..<1000)
        p.clearStale(200..<400)
        #expect(p.stale == [0..<200, 400..<1000])
        #expect(!p.isStale(200..<400))
        #expect(p.isStale(199..<200) && p.isStale(400..<401))
        p.clearStale(0..<1000)
        #expect(p.stale.isEmpty)
    }

    @Test func takingTheStalePartsOfABufferLeavesTheRest() throws {
        let p = try pool()
        p.markStale(0..<100)
        p.markStale(200..<300)
        p.markStale(900..<1000)
        #expect(p.takeStale(in: 50..<250) == [50..<100, 200..<250])
        #expect(p.stale == [0..<50, 250..<300, 900..<1000])
        #expect(p.takeStale(in: 400..<800).isEmpty)
        #expect(p.stale.count == 3)
    }

    @Test func tooManyRangesMergeIntoOneThatCoversThemAll() throws {
        let p = try pool()
        for i in 0...StaleRanges.maxRanges { p.markStale((i * 10)..<(i * 10 + 5)) }
        #expect(p.stale == [0..<(StaleRanges.maxRanges * 10 + 5)])
    }

    /// Only a file sealed against shrinking may have its bytes queued by
    /// reference: nothing can then make the kernel's later read fault.
    @Test func onlyAShrinkSealedFileCountsAsUnshrinkable() throws {
        let open = try Memfd.create(name: "unsealed", size: 4096)
        #expect(!(try StreamPool(resourceID: 1, client: .shm(open), size: 4096).clientCannotShrink))
        let sealed = try Memfd.create(name: "sealed", size: 4096)
        try Memfd.addSeals(sealed, [.shrink])
        #expect(try StreamPool(resourceID: 2, client: .shm(sealed), size: 4096).clientCannotShrink)
        // A seal added later is seen at the next look.
        let late = try Memfd.create(name: "late", size: 4096)
        let pool = try StreamPool(resourceID: 3, client: .shm(try late.duplicate()), size: 4096)
        #expect(!pool.clientCannotShrink)
        try Memfd.addSeals(late, [.shrink])
        #expect(pool.clientCannotShrink)
    }
}
