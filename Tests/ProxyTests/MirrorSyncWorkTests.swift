import Glibc
import Link
import PortholeSystem
import Testing
@testable import Proxy

/// A stream window's sync as the copy thread runs it (`MirrorSyncWork`):
/// the mirror ends up holding the client's bytes, and the runs it lists,
/// applied from the mirror to what the host had, give the host the client's
/// picture; the runs come in batches of about a send chunk, as the loop's
/// own sync sends them.
@Suite("Stream syncs on the copy thread") struct MirrorSyncWorkTests {
    let straight = RowFlip(inverted: false, offset: 0, stride: 4096, height: 1)

    /// A client pool (written through `writer`) and its mirror, as a stream pool has them.
    func makePool(size: Int) throws -> (StreamPool, SharedMapping, OwnedFD) {
        let fd = try Memfd.create(name: "test-pool", size: size)
        let writer = try SharedMapping(fd: fd, size: size)
        let pool = try StreamPool(resourceID: 1, client: .shm(try fd.duplicate()), size: size)
        return (pool, writer, fd)
    }

    func work(_ pool: StreamPool, synced: [Range<Int>] = [], pieces: [SyncJob.Piece], rows: RowFlip? = nil,
              blind: Bool, offerCPU: @escaping () -> Void = {}) -> MirrorSyncWork {
        MirrorSyncWork(client: pool.client.base!, clientLength: pool.size, mirror: pool.mirror.base!, synced: synced,
                       pieces: pieces, rows: rows ?? straight, blind: blind, keepAlive: [pool.client, pool.mirror],
                       offerCPU: offerCPU)
    }

    /// What the host has after receiving `batches` from the mirror on top of `host`.
    func apply(_ batches: [[UpdateRun]], from pool: StreamPool, to host: inout [UInt8]) {
        for r in batches.joined() {
            host.withUnsafeMutableBytes { ($0.baseAddress! + r.offset).copyMemory(from: pool.mirror.base! + r.offset, byteCount: r.length) }
        }
    }

    func bytes(_ m: SharedMapping, _ range: Range<Int>) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: m.base! + range.lowerBound, count: range.count))
    }

    @Test("a compared sync lists only changed blocks, in batches of at most two send chunks, and the host ends up with the client's bytes")
    func comparedSyncSendsWhatChanged() throws {
        let size = 6 << 20
        let (pool, writer, _) = try makePool(size: size)
        var host = [UInt8](repeating: 0, count: size)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let at = Int.random(in: 0..<size, using: &rng)
            let n = min(Int.random(in: 1...20_000, using: &rng), size - at)
            for i in stride(from: 0, to: n, by: 7) { writer.base!.storeBytes(of: UInt8.random(in: 1...255, using: &rng), toByteOffset: at + i, as: UInt8.self) }
        }
        let w = work(pool, pieces: [(0..<size, false)], blind: false)
        w.run()
        let o = w.outcome
        #expect(!o.faulted && o.guardError == nil)
        #expect(o.compared == size)
        let listed = o.batches.joined().reduce(0) { $0 + $1.length }
        #expect(listed == o.copied && listed > 0 && listed < size)
        #expect(o.batches.allSatisfy { b in !b.isEmpty && b.reduce(0) { $0 + $1.length } <= 2 * SyncTuning.sendChunk })
        let offsets = o.batches.joined().map(\.offset)
        #expect(offsets == offsets.sorted())
        apply(o.batches, from: pool, to: &host)
        let same = host == bytes(writer, 0..<size)
        #expect(same, "the host's copy differs from the client's bytes")
        // Nothing changed since: a second compare lists nothing.
        let again = work(pool, pieces: [(0..<size, false)], blind: false)
        again.run()
        #expect(again.outcome.batches.isEmpty && again.outcome.copied == 0)
    }

    @Test("a blind sync copies the missed ranges first and sends its pieces without comparing, in order")
    func blindSyncWithMissedRanges() throws {
        let size = 4 << 20
        let (pool, writer, _) = try makePool(size: size)
        for i in stride(from: 0, to: size, by: 8) { writer.base!.storeBytes(of: UInt64(i) &* 0x9E37_79B9, toByteOffset: i, as: UInt64.self) }
        let missed = 0..<(1 << 20)
        let w = work(pool, synced: [missed, (3 << 20)..<(4 << 20)],
                     pieces: [(missed, true), ((1 << 20)..<(3 << 20), false)], blind: true)
        w.run()
        let o = w.outcome
        #expect(o.compared == 0 && o.synced == 2 << 20 && o.copied == 2 << 20)
        let runs = Array(o.batches.joined())
        #expect(runs.first?.offset == 0)
        #expect(runs.reduce(0) { $0 + $1.length } == 3 << 20)
        let mirrorMatches = bytes(pool.mirror, 0..<size) == bytes(writer, 0..<size)
        #expect(mirrorMatches, "the mirror does not hold the client's bytes")
    }

    /// Counts calls from the copy thread's work (one thread at a time).
    final class Offers: @unchecked Sendable { var count = 0 }

    @Test("the copy thread offers its CPU between chunks of missed ranges, compared and blind pieces alike, and the mirror still ends up whole",
          arguments: [false, true])
    func offersTheCPUBetweenChunks(blind: Bool) throws {
        let size = 6 << 20
        let (pool, writer, _) = try makePool(size: size)
        for i in stride(from: 0, to: size, by: 8) { writer.base!.storeBytes(of: UInt64(i) &* 0x9E37_79B9 | 1, toByteOffset: i, as: UInt64.self) }
        let offers = Offers()
        // 2 MiB missed (2 chunks: 1 offer between), then a 3.5 MiB piece
        // (4 chunks: 3 offers) and one under a chunk (none).
        let missed = 0..<(2 << 20)
        let w = work(pool, synced: [missed], pieces: [(missed, true), ((2 << 20)..<(11 << 19), false), ((11 << 19)..<size, false)],
                     blind: blind) { offers.count += 1 }
        w.run()
        #expect(offers.count == 1 + 3)
        #expect(w.outcome.synced == 2 << 20 && w.outcome.copied == size - (2 << 20))
        let mirrorMatches = bytes(pool.mirror, 0..<size) == bytes(writer, 0..<size)
        #expect(mirrorMatches, "the mirror does not hold the client's bytes")
    }

    @Test("a y-inverted buffer's rows are read from the mirrored rows of the client's memory")
    func invertedRows() throws {
        let stride = 4096, height = 16, size = stride * height
        let (pool, writer, _) = try makePool(size: size)
        for row in 0..<height { memset(writer.base! + row * stride, Int32(row + 1), stride) }
        let rows = RowFlip(inverted: true, offset: 0, stride: stride, height: height)
        let pieces: [SyncJob.Piece] = (0..<height).map { ((($0 * stride)..<(($0 + 1) * stride)), false) }
        let w = work(pool, pieces: pieces, rows: rows, blind: true)
        w.run()
        for row in 0..<height {
            #expect(pool.mirror.base!.load(fromByteOffset: row * stride + 100, as: UInt8.self) == UInt8(height - row))
        }
    }

    @Test("a client file that shrinks under the sync is reported as a fault, not a crash")
    func shrunkFileFaults() throws {
        let size = 1 << 20
        let (pool, _, fd) = try makePool(size: size)
        #expect(ftruncate(fd.rawValue, 4096) == 0)
        let w = work(pool, pieces: [(0..<size, false)], blind: false)
        w.run()
        #expect(w.outcome.faulted)
    }
}
