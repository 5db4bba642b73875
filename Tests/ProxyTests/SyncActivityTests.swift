@testable import Proxy
import Testing

/// The copy helper's decision: a window's copy gets the second core only
/// when no other window synced within the quiet time.
@Suite("Sync activity") struct SyncActivityTests {
    let second = SyncActivity.quietNanoseconds

    @Test("a window alone is always quiet company, however often it syncs")
    func aLoneWindow() {
        var a = SyncActivity()
        #expect(a.othersQuiet(besides: 1, now: 10))
        for t in 1...50 { a.note(channel: 1, now: UInt64(t) * 1_000_000) }
        #expect(a.othersQuiet(besides: 1, now: 51_000_000))
    }

    @Test("another window's sync within the quiet time keeps the helper out, and the next second lets it back")
    func anotherWindowDrew() {
        var a = SyncActivity()
        a.note(channel: 2, now: 100)
        a.note(channel: 1, now: 200)
        #expect(!a.othersQuiet(besides: 1, now: 300))
        // The video syncing again and again does not hide the editor's sync.
        for t in 0..<20 { a.note(channel: 1, now: 400 + UInt64(t)) }
        #expect(!a.othersQuiet(besides: 1, now: 500))
        #expect(a.othersQuiet(besides: 1, now: 100 + second))
        // For the editor, the video is the other window.
        #expect(!a.othersQuiet(besides: 2, now: 500))
    }

    @Test("of three windows, the most recent other one counts")
    func threeWindows() {
        var a = SyncActivity()
        a.note(channel: 3, now: 1000)
        a.note(channel: 2, now: 2000)
        a.note(channel: 1, now: 3000)
        #expect(!a.othersQuiet(besides: 1, now: 1999 + second))
        #expect(a.othersQuiet(besides: 1, now: 2000 + second))
    }
}
