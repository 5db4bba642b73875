import Sharing
import SystemTestSupport
import Testing

@Suite struct RegionAllocatorTests {
    @Test func allocationsArePageAlignedAndInsideTheBounds() throws {
        var a = RegionAllocator(bounds: 4096..<(1 << 20))
        let x = try unwrap(a.allocate(1))
        let y = try unwrap(a.allocate(5000))
        #expect(x == 4096 && a.allocationSize(at: x) == 4096)
        #expect(y == 8192 && a.allocationSize(at: y) == 8192)
        check(a.allocate(0) == nil)
        check(a.allocate(1 << 20) == nil, "larger than what is free")
        #expect(a.freeBytes == (1 << 20) - 4096 - 4096 - 8192)
    }

    @Test func freeingMergesNeighboursBackIntoOneExtent() throws {
        var a = RegionAllocator(bounds: 0..<(64 * 4096))
        let blocks = (0..<64).map { _ in a.allocate(4096)! }
        check(a.allocate(4096) == nil)
        // Free the odd ones, then the even ones: everything merges.
        for b in blocks.enumerated().filter({ $0.offset % 2 == 1 }).map(\.element) { check(a.release(b)) }
        #expect(a.free.count == 32)
        check(a.allocate(8192) == nil, "no two free pages are adjacent yet")
        for b in blocks.enumerated().filter({ $0.offset % 2 == 0 }).map(\.element) { check(a.release(b)) }
        #expect(a.free == [RegionAllocator.Extent(offset: 0, length: 64 * 4096)])
        check(!a.release(blocks[0]), "double free is refused")
    }

    @Test func extendGrowsInPlaceOnlyIntoFreeSpace() throws {
        var a = RegionAllocator(bounds: 0..<(16 * 4096))
        let x = try unwrap(a.allocate(4096))
        check(a.extend(at: x, to: 3 * 4096))
        #expect(a.allocationSize(at: x) == 3 * 4096)
        let y = try unwrap(a.allocate(4096))
        #expect(y == 3 * 4096)
        check(!a.extend(at: x, to: 4 * 4096), "y is in the way")
        check(a.extend(at: y, to: 13 * 4096))
        #expect(a.freeBytes == 0)
    }

    @Test func bestFitKeepsLargeExtentsWhole() throws {
        var a = RegionAllocator(bounds: 0..<(100 * 4096))
        let small = a.allocate(4096)!
        _ = a.allocate(4096)!
        a.release(small)      // a one-page hole at 0, 98 pages free at the end
        check(a.allocate(4096) == 0, "the hole is used, the big extent stays whole")
        #expect(a.largestFree == 98 * 4096)
    }

    /// 100 000 random allocations and frees: allocations never overlap and
    /// never leave the bounds; the books always balance; after freeing all,
    /// the region is one extent again.
    @Test func randomChurnStaysConsistent() throws {
        let bounds: Range<UInt64> = 4096..<(64 << 20)
        var a = RegionAllocator(bounds: bounds)
        var rng = SplitMix64(seed: 2026)
        var live: [UInt64] = []
        var failures = 0
        for step in 0..<100_000 {
            if live.isEmpty || (rng.next() % 100 < 55 && live.count < 400) {
                let size = 1 + rng.next() % (1 << 20)
                if let o = a.allocate(size) {
                    #expect(o % 4096 == 0 && o >= bounds.lowerBound && o + a.allocationSize(at: o)! <= bounds.upperBound)
                    live.append(o)
                } else {
                    failures += 1
                    // A failure is only allowed when no free extent fits.
                    #expect(a.largestFree < size, "allocation of \(size) failed with \(a.largestFree) free in one piece")
                }
            } else {
                live.swapAt(Int(rng.next() % UInt64(live.count)), live.count - 1)
                let o = live.removeLast()
                check(a.release(o))
            }
            if step % 5000 == 0 { try checkInvariants(a, live: live) }
        }
        try checkInvariants(a, live: live)
        for o in live { a.release(o) }
        #expect(a.free == [RegionAllocator.Extent(offset: bounds.lowerBound, length: UInt64(bounds.count))])
        #expect(a.allocated.isEmpty)
    }

    func checkInvariants(_ a: RegionAllocator, live: [UInt64]) throws {
        #expect(a.allocated.count == live.count)
        var extents = a.allocated.map { RegionAllocator.Extent(offset: $0.key, length: $0.value) } + a.free
        extents.sort { $0.offset < $1.offset }
        // Allocated and free extents tile the bounds exactly: no overlap, no gap.
        var cursor = a.bounds.lowerBound
        for e in extents {
            #expect(e.offset == cursor, "gap or overlap at \(cursor)")
            cursor = e.end
        }
        #expect(cursor == a.bounds.upperBound)
        for (x, y) in zip(a.free, a.free.dropFirst()) { #expect(x.end < y.offset, "free extents must be merged") }
    }
}

/// Unwraps outside #require (mutating calls cannot go inside the macro).
func unwrap<T>(_ value: T?, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
    try #require(value, sourceLocation: sourceLocation)
}

/// #expect for a value computed by a mutating call.
func check(_ condition: Bool, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(condition, comment, sourceLocation: sourceLocation)
}
