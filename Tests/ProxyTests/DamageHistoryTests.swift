@testable import Proxy
import Testing

@Suite struct DamageHistoryTests {
    private let g = CommitGeometry(width: 100, height: 80, scale: 1, transform: 0, viewport: ViewportState())
    private var whole: [Rect] { [Rect(x: 0, y: 0, width: 100, height: 80)] }
    private func band(_ y: Int, _ h: Int = 10) -> Rect { Rect(x: 0, y: y, width: 100, height: h) }

    /// Commits and returns the rectangles to compare (a helper: no mutation inside #expect).
    private func commit(_ h: inout DamageHistory, surface: UInt64 = 1, _ buffer: UInt32?, _ damage: [Rect],
                        geometry: CommitGeometry? = nil) -> [Rect] {
        h.commit(surface: surface, buffer: buffer, geometry: geometry ?? g, damage: damage)
    }

    @Test func firstCommitOfABufferIsWhole() {
        var h = DamageHistory()
        h.created(1)
        let r = commit(&h, 1, [band(0)])
        #expect(r == whole)
    }

    /// Double buffering: each buffer gets its own damage plus what the surface
    /// took while the other buffer was shown.
    @Test func aBufferGetsTheDamageItMissedWhileNotAttached() {
        var h = DamageHistory()
        h.created(1)
        h.created(2)
        _ = commit(&h, 1, [])
        _ = commit(&h, 2, [])
        let a = commit(&h, 1, [band(20)])
        #expect(a == [band(20)], "buffer 1 missed nothing: buffer 2's first commit had no damage")
        let b = commit(&h, 2, [band(40)])
        #expect(b == [band(20), band(40)], "buffer 2 missed band 20 while buffer 1 was shown")
        let c = commit(&h, 1, [band(60)])
        #expect(c == [band(40), band(60)])
        // Triple buffering: a third buffer after its first (whole) commit.
        h.created(3)
        #expect(commit(&h, 3, [band(0)]) == whole)
        let d = commit(&h, 2, [band(5)])
        #expect(d == [band(60), band(0), band(5)], "buffer 2 missed the commits of buffers 1 and 3")
    }

    @Test func recommittingTheSameBufferComparesOnlyItsDamage() {
        var h = DamageHistory()
        h.created(1)
        _ = commit(&h, 1, [])
        let r = commit(&h, 1, [band(30, 2)])
        #expect(r == [band(30, 2)])
    }

    @Test func rectanglesInsideOthersAreDroppedAndFullDamageIsWhole() {
        var h = DamageHistory()
        h.created(1)
        h.created(2)
        _ = commit(&h, 1, [])
        _ = commit(&h, 2, [])
        _ = commit(&h, 1, [band(10, 30)])
        let r = commit(&h, 2, [Rect(x: 5, y: 15, width: 10, height: 10), band(60)])
        #expect(r == [band(10, 30), band(60)])
        _ = commit(&h, 1, [Rect(x: -10, y: -10, width: 500, height: 500)])
        let w = commit(&h, 2, [band(0)])
        #expect(w == whole, "full damage covers everything: compared once, not twice")
    }

    @Test func buffersSharingPoolBytesAreAlwaysWhole() {
        var h = DamageHistory()
        h.created(1)
        h.created(2, aliased: true)
        h.markAliased(1)
        _ = commit(&h, 1, [])
        _ = commit(&h, 2, [])
        #expect(commit(&h, 1, [band(0)]) == whole)
        #expect(commit(&h, 2, [band(0)]) == whole)
        #expect(commit(&h, 2, [band(0)]) == whole)
    }

    @Test func aPoolResizeMakesTheNextCommitWhole() {
        var h = DamageHistory()
        h.created(1)
        _ = commit(&h, 1, [])
        h.markWhole(1)
        #expect(commit(&h, 1, [band(0)]) == whole)
        #expect(commit(&h, 1, [band(0)]) == [band(0)])
    }

    @Test func aCommitWithOtherGeometryInBetweenMakesItWhole() {
        var h = DamageHistory()
        h.created(1)
        h.created(2)
        _ = commit(&h, 1, [])
        var scaled = g
        scaled.scale = 2
        _ = commit(&h, 2, [band(0)], geometry: scaled)
        #expect(commit(&h, 1, [band(50)]) == whole)
        // Buffer 1 itself committed with another geometry than last time.
        #expect(commit(&h, 1, [band(50)], geometry: scaled) == whole)
    }

    @Test func aBufferLastShownOnAnotherSurfaceIsWhole() {
        var h = DamageHistory()
        h.created(1)
        _ = commit(&h, surface: 1, 1, [])
        #expect(commit(&h, surface: 2, 1, [band(0)]) == whole)
        #expect(commit(&h, surface: 2, 1, [band(0)]) == [band(0)])
    }

    @Test func aCommitWithoutBufferMakesTheOthersWhole() {
        var h = DamageHistory()
        h.created(1)
        _ = commit(&h, 1, [])
        #expect(commit(&h, nil, [band(0)]).isEmpty)
        #expect(commit(&h, 1, [band(0)]) == whole)
    }

    @Test func aDestroyedSurfaceOrBufferForgetsTheHistory() {
        var h = DamageHistory()
        h.created(1)
        _ = commit(&h, surface: 7, 1, [])
        h.surfaceDestroyed(7)
        #expect(commit(&h, surface: 7, 1, [band(0)]) == whole)
        // A new buffer under a destroyed one's id starts over.
        h.destroyed(1)
        h.created(1)
        #expect(commit(&h, surface: 7, 1, [band(0)]) == whole)
    }

    @Test func tooManyRectanglesMakeItWhole() {
        var h = DamageHistory()
        h.created(1)
        h.created(2)
        _ = commit(&h, 1, [])
        _ = commit(&h, 2, [])
        let many = (0..<(DamageHistory.maxRects - 1)).map { Rect(x: $0 % 100, y: $0 % 80, width: 1, height: 1) }
        _ = commit(&h, 1, many)
        #expect(commit(&h, 2, [band(0), band(20)]) == whole)
    }

    @Test func aBufferNotShownForManyCommitsOfOthersIsWhole() {
        var h = DamageHistory()
        for b in 1...UInt32(DamageHistory.buffersPerSurface + 1) {
            h.created(b)
            _ = commit(&h, b, [])
        }
        // Buffer 1 fell out of the surface's list: its history is gone.
        #expect(commit(&h, 1, [band(0)]) == whole)
        let last = UInt32(DamageHistory.buffersPerSurface + 1)
        #expect(commit(&h, last, [band(3)]) == [band(0), band(3)])
    }
}
