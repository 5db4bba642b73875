import PortholeSystem
@testable import Proxy
import Testing

/// A stream commit's spans are cut where they enter or leave the bytes the
/// mirror was brought up to date with at its start (`SyncJob.synced`): those
/// pieces are sent as they are, the others compared or copied.
@Suite struct SyncJobPiecesTests {
    func job(synced: [Range<Int>]) throws -> SyncJob {
        let pool = try StreamPool(resourceID: 1, client: .shm(try Memfd.create(name: "pieces", size: 4096)), size: 4096)
        var j = SyncJob(buffer: ShmBuffer(pool: pool, offset: 0, width: 16, height: 16, stride: 64, format: 1),
                        bufferID: 1, rects: [Rect(x: 0, y: 0, width: 16, height: 16)], exclusive: true)
        j.synced = synced
        return j
    }

    @Test func piecesAreCutAtTheSyncedRangesAndCoverEachSpanInOrder() throws {
        let j = try job(synced: [10..<20, 30..<40, 90..<95])
        var pieces: [SyncJob.Piece] = [(0..<1, true)]  // replaced, not appended to
        j.pieces(of: [0..<35, 38..<50, 60..<70, 92..<100], into: &pieces)
        let got = pieces.map { "\($0.range.lowerBound)-\($0.range.upperBound)\($0.inSynced ? "s" : "")" }
        #expect(got == ["0-10", "10-20s", "20-30", "30-35s", "38-40s", "40-50", "60-70", "92-95s", "95-100"])
    }

    @Test func withNothingSyncedEachSpanIsOnePiece() throws {
        let j = try job(synced: [])
        var pieces: [SyncJob.Piece] = []
        j.pieces(of: [0..<64, 128..<192], into: &pieces)
        #expect(pieces.map(\.range) == [0..<64, 128..<192] && pieces.allSatisfy { !$0.inSynced })
    }
}
