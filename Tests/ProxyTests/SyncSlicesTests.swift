@testable import Proxy
import Testing

@Suite struct SyncSlicesTests {
    @Test func slicesCoverEverySpanOnceInOrderWithinTheBudget() {
        let spans = [0..<10, 20..<45, 100..<103]
        var s = SyncSlices(spans: spans)
        #expect(s.remainingBytes == 38)
        var got: [Range<Int>] = []
        var sizes: [Int] = []
        while !s.isDone {
            let slice = s.next(budget: 8)
            sizes.append(slice.reduce(0) { $0 + $1.count })
            got += slice
        }
        #expect(sizes.allSatisfy { $0 <= 8 } && sizes.dropLast().allSatisfy { $0 == 8 })
        // Joined back together, the pieces are the spans.
        var joined: [Range<Int>] = []
        for r in got {
            if let last = joined.last, last.upperBound == r.lowerBound { joined[joined.count - 1] = last.lowerBound..<r.upperBound } else { joined.append(r) }
        }
        #expect(joined == spans)
        #expect(s.next(budget: 8).isEmpty)
    }

    @Test func aSliceTakesWholeSmallSpansAndCutsALargeOne() {
        var s = SyncSlices(spans: [0..<3, 10..<12, 50..<5050])
        #expect(s.next(budget: 1000) == [0..<3, 10..<12, 50..<1045])
        #expect(s.remainingBytes == 4005)
        #expect(s.rest() == [1045..<5050])
        #expect(s.isDone)
    }

    @Test func emptySpansAreDroppedAndABudgetBelowOneStillProgresses() {
        var s = SyncSlices(spans: [5..<5, 7..<9])
        #expect(s.remainingBytes == 2)
        #expect(s.next(budget: 0) == [7..<8])
        #expect(s.next(budget: -3) == [8..<9])
        #expect(s.isDone)
        #expect(SyncSlices(spans: []).isDone)
    }

    @Test func theRestOfAnUntouchedSyncIsAllItsSpansAndThenNothing() {
        var s = SyncSlices(spans: [4..<4, 0..<3, 10..<12])
        #expect(s.rest() == [0..<3, 10..<12])
        #expect(s.isDone && s.remainingBytes == 0)
        #expect(s.rest().isEmpty)
        #expect(s.next(budget: 100).isEmpty)
    }
}
