@testable import Link
import Testing

/// Which channels move to the bulk lane: a video beside a light window does,
/// a window alone or eight videos together do not (link-protocol.md §14).
@Suite struct LanePolicyTests {
    static let ms: UInt64 = 1_000_000
    static let frame720 = 1280 * 720 * 4

    /// A frame of `bytes` as a sync sends it: calls of at most 1 MiB.
    static func sendFrame(_ p: inout LanePolicy, channel: UInt32, bytes: Int, at now: UInt64) -> Bool {
        var left = bytes, moved = false
        while left > 0 {
            let n = min(left, 1 << 20)
            if p.noteUpdate(channel: channel, bytes: n, now: now) { moved = true }
            left -= n
        }
        return moved
    }

    @Test func aWindowDrawingAloneNeverMoves() {
        var p = LanePolicy()
        for i in 0..<3000 {
            let now = 1 + UInt64(i) * Self.ms
            #expect(!Self.sendFrame(&p, channel: 1, bytes: Self.frame720, at: now))
            p.noteFrame(channel: 1, now: now)
        }
    }

    @Test func aVideoMovesOnceATypingWindowBesideItIsLight() {
        var p = LanePolicy()
        var movedAt: Int?
        for i in 0..<200 {
            let now = 1 + UInt64(i) * Self.ms
            // The typing window: two whole frames first, then a few KiB a frame.
            let typing = i < 2 ? Self.frame720 : 3 * 1024
            #expect(!Self.sendFrame(&p, channel: 2, bytes: typing, at: now), "the typing window moved at \(i)")
            p.noteFrame(channel: 2, now: now)
            // Once moved, its frames go on the lane and the policy hears no more of them.
            if movedAt == nil {
                if Self.sendFrame(&p, channel: 1, bytes: 8 * Self.frame720, at: now) { movedAt = i }
                p.noteFrame(channel: 1, now: now)
            }
        }
        // Light after its fourth small frame (i = 5); the video is bulk from its third.
        #expect(movedAt == 5)
    }

    @Test func eightVideosTogetherStay() {
        var p = LanePolicy()
        for i in 0..<1000 {
            let now = 1 + UInt64(i) * Self.ms
            for c in UInt32(1)...8 {
                #expect(!Self.sendFrame(&p, channel: c, bytes: Self.frame720, at: now), "channel \(c) moved at \(i)")
                p.noteFrame(channel: c, now: now)
            }
        }
    }

    @Test func smallUpdatesNeverMoveHoweverMany() {
        // Scattered damage: 74 KB a commit, 3000 a second, beside a terminal.
        var p = LanePolicy()
        for i in 0..<3000 {
            let now = 1 + UInt64(i) * Self.ms / 3
            let moved = p.noteUpdate(channel: 1, bytes: 74_000, now: now)
            #expect(!moved)
            p.noteFrame(channel: 2, now: now)
        }
    }

    /// `lightStreak` small updates from `channel` at `now`: it is light from then on.
    static func typeSomething(_ p: inout LanePolicy, channel: UInt32, at now: UInt64) {
        for _ in 0..<LanePolicy.lightStreak {
            let moved = p.noteUpdate(channel: channel, bytes: 2048, now: now)
            #expect(!moved)
        }
    }

    @Test func aClientThatHasDrawnNothingIsNotLight() {
        var p = LanePolicy()
        for i in 0..<100 {
            let now = 1 + UInt64(i) * Self.ms
            // Eight windows starting together: requests from all, whole frames from one.
            for c in UInt32(2)...8 { p.noteFrame(channel: c, now: now) }
            #expect(!Self.sendFrame(&p, channel: 1, bytes: 8 * Self.frame720, at: now), "moved at \(i)")
        }
        Self.typeSomething(&p, channel: 2, at: 101 * Self.ms)
        #expect(Self.sendFrame(&p, channel: 1, bytes: Self.frame720, at: 101 * Self.ms))
    }

    @Test func theLightWindowMustHaveBeenActiveWithinASecond() {
        var p = LanePolicy()
        // A window that typed something, long ago.
        Self.typeSomething(&p, channel: 2, at: 1)
        let late = 2_000 * Self.ms
        for i in 0..<20 {
            #expect(!Self.sendFrame(&p, channel: 1, bytes: 8 * Self.frame720, at: late + UInt64(i) * Self.ms))
        }
        p.noteFrame(channel: 2, now: late + 30 * Self.ms)
        #expect(Self.sendFrame(&p, channel: 1, bytes: 8 * Self.frame720, at: late + 31 * Self.ms))
    }

    @Test func aVideoCountsItsBytesPerSecond() {
        // 60 MiB a second beside a light window: below the mark, never moves;
        // 64 MiB within a second: moves.
        var p = LanePolicy()
        Self.typeSomething(&p, channel: 2, at: 1)
        for i in 0..<120 {
            let now = 1 + UInt64(i) * 50 * Self.ms
            p.noteFrame(channel: 2, now: now)
            #expect(!Self.sendFrame(&p, channel: 1, bytes: 3 << 20, at: now), "moved at \(i)")
        }
        var q = LanePolicy()
        Self.typeSomething(&q, channel: 2, at: 1)
        var moved = false
        for i in 0..<20 where !moved {
            let now = 1 + UInt64(i) * 50 * Self.ms
            q.noteFrame(channel: 2, now: now)
            moved = Self.sendFrame(&q, channel: 1, bytes: 4 << 20, at: now)
            #expect(moved == (i == 15), "step \(i)")
        }
    }
}
