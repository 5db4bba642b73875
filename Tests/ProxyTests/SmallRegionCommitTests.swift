@testable import Proxy
import Testing

/// A region commit smaller than `SyncTuning.smallRegionCommit` is copied
/// without comparing (a typing commit's few KiB: comparing would read them
/// twice to spare writes worth less); a larger one is still compared, so
/// unchanged damage is not rewritten.
@Suite("Small region commits") struct SmallRegionCommitTests {
    typealias Window = SlicedSyncTests.Window

    /// Bytes the guest copied into the region for a window's redraw with
    /// the bytes it already shows (all damaged, nothing changed). Zeros,
    /// as the fresh region holds: no commit changes most of its damage, so
    /// none starts a run of blind commits.
    func copiedForAnUnchangedRedraw(width: Int, height: Int) throws -> (copied: UInt64, size: Int) {
        let h = try InProcessHost(regionSize: 32 << 20)
        let gp = try InProcessGuest(host: h, mapRegion: true)
        defer { gp.tearDown() }
        let window = try Window(gp, width: width, height: height, name: "window")
        window.draw(0)
        try #require(h.pump(timeout: 20) { window.commits == 1 })
        let before = gp.guest.stats.copiedBytes
        window.draw(0)
        try #require(h.pump(timeout: 20) { window.commits == 2 })
        return (gp.guest.stats.copiedBytes - before, width * height * 4)
    }

    @Test("a commit under 64 KiB is copied whole, without comparing")
    func aSmallCommitIsCopiedBlind() throws {
        let r = try copiedForAnUnchangedRedraw(width: 64, height: 64)
        #expect(r.size < SyncTuning.smallRegionCommit)
        #expect(r.copied == UInt64(r.size))
    }

    @Test("a larger commit is compared: its unchanged damage is not copied")
    func aLargerCommitIsCompared() throws {
        let r = try copiedForAnUnchangedRedraw(width: 256, height: 128)
        #expect(r.size >= SyncTuning.smallRegionCommit)
        #expect(r.copied == 0)
    }
}
