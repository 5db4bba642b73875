import Link
import PortholeSystem

/// One stream commit's sync into its pool's mirror, packed for the copy
/// thread: the bytes the mirror had missed are copied in first, then each
/// damaged piece is compared with the mirror (in a run of blind commits,
/// copied) and what changed is listed as update runs, cut into batches of
/// about `SyncTuning.sendChunk` bytes as the loop's own sync cuts them. The
/// thread reads the client's memory and writes the mirror, never the link:
/// the loop sends the batches from the mirror afterwards
/// (`StreamPool.finishDetached`). A window on the bulk lane syncs so: its
/// 33 MB compares would otherwise hold the loop, and every other window's
/// commit with it, for milliseconds at a time.
final class MirrorSyncWork: DetachedSync, @unchecked Sendable {
    struct Outcome {
        /// Bytes compared with the mirror.
        var compared = 0
        /// Bytes of the pieces copied into the mirror (changed, or all of a blind commit).
        var copied = 0
        /// Bytes of `synced` copied in first.
        var synced = 0
        /// The runs to send, in order, a batch per send.
        var batches: [[UpdateRun]] = []
        /// The client's file shrank under the read (see `MemoryFaultGuard`).
        var faulted = false
        /// The fault guard could not be set up.
        var guardError: String?
    }

    let client: UnsafeMutableRawPointer
    let clientLength: Int
    let mirror: UnsafeMutableRawPointer
    /// Ranges the mirror had missed (sent straight from the client's memory
    /// earlier): copied first, at the same offsets.
    let synced: [Range<Int>]
    /// The damaged pieces, in order; those in the job's synced ranges are
    /// listed for sending without a compare.
    let pieces: [SyncJob.Piece]
    let rows: RowFlip
    let blind: Bool
    /// The client's mapping and the mirror, kept mapped while this exists.
    let keepAlive: [AnyObject]
    /// What `run` did (see `DetachedSync` for who reads it when).
    private(set) var outcome = Outcome()
    /// Called between chunks (`ThreadScheduling.offerCPU` on the copy thread).
    let offerCPU: () -> Void

    init(client: UnsafeMutableRawPointer, clientLength: Int, mirror: UnsafeMutableRawPointer, synced: [Range<Int>],
         pieces: [SyncJob.Piece], rows: RowFlip, blind: Bool, keepAlive: [AnyObject],
         offerCPU: @escaping () -> Void = ThreadScheduling.offerCPU) {
        self.client = client
        self.clientLength = clientLength
        self.mirror = mirror
        self.synced = synced
        self.pieces = pieces
        self.rows = rows
        self.blind = blind
        self.keepAlive = keepAlive
        self.offerCPU = offerCPU
    }

    /// Its copies go into the mirror, which the loop reads next (cached
    /// copies, and none as large as a region frame's): no helper.
    func run(helper: CopyHelper?) {
        do {
            let guarded = try MemoryFaultGuard.reading(client, length: clientLength) { () -> Outcome in sync() }
            outcome = guarded.value
            outcome.faulted = guarded.faulted
        } catch {
            outcome.guardError = "\(error)"
        }
    }

    /// The copy and compare, inside the fault guard.
    private func sync() -> Outcome {
        var o = Outcome()
        o.synced = Self.copyMissed(synced, client: client, mirror: mirror, between: offerCPU)
        var runs: [UpdateRun] = []
        var batches: [[UpdateRun]] = []
        (o.compared, o.copied) = Self.walk(pieces, client: client, mirror: mirror, rows: rows, blind: blind, between: offerCPU,
                                           runs: &runs) { runs in
            batches.append(runs)
            runs.removeAll(keepingCapacity: true)
        }
        o.batches = batches
        return o
    }

    /// Copies `ranges` the mirror had missed from the client's memory, at
    /// the same offsets (bytes sent by reference never come from a
    /// y-inverted buffer). Returns the bytes copied.
    /// `between` as for `walk`.
    static func copyMissed(_ ranges: [Range<Int>], client: UnsafeRawPointer, mirror: UnsafeMutableRawPointer,
                           between: () -> Void = {}) -> Int {
        var n = 0
        for r in ranges {
            var at = r.lowerBound
            while at < r.upperBound {
                if n > 0 { between() }
                let stop = min(r.upperBound, at + ThreadScheduling.bulkPiece)
                (mirror + at).copyMemory(from: client + at, byteCount: stop - at)
                n += stop - at
                at = stop
            }
        }
        return n
    }

    /// The walk over a commit's damaged pieces that the loop's sync
    /// (`StreamPool.syncSpans`) and the copy thread's share: a piece in the
    /// missed ranges is listed as it is (the mirror holds it now); any other
    /// is copied into the mirror (`blind`) or compared with it, listing what
    /// changed. `send` gets the runs each time about `SyncTuning.sendChunk`
    /// bytes have gathered, and at the end, and empties them. Returns the
    /// bytes compared and the bytes copied into the mirror. Only locals
    /// change inside the loop: a class property changed per run pays a
    /// dynamic exclusivity check, and scattered damage makes hundreds of
    /// runs a commit (those checks were once a third of the guest's CPU).
    /// `between` runs between chunks: `ThreadScheduling.offerCPU` on the
    /// copy thread; nothing on the loop, whose syncs are sliced instead.
    static func walk(_ pieces: [SyncJob.Piece], client: UnsafeRawPointer, mirror: UnsafeMutableRawPointer, rows: RowFlip, blind: Bool,
                     between: () -> Void = {},
                     runs: inout [UpdateRun], send: (inout [UpdateRun]) -> Void) -> (compared: Int, copied: Int) {
        var pending = 0, compared = 0, copied = 0
        for (range, inSynced) in pieces {
            if inSynced {
                ByteDiff.addRun(&runs, offset: range.lowerBound, length: range.count)
                pending += range.count
                if pending >= SyncTuning.sendChunk {
                    send(&runs)
                    pending = 0
                }
                continue
            }
            let source = client + rows.shift(at: range.lowerBound)
            var at = range.lowerBound
            while at < range.upperBound {
                if at > range.lowerBound { between() }
                let stop = min(range.upperBound, at + SyncTuning.sendChunk)
                let n: Int
                if blind {
                    (mirror + at).copyMemory(from: source + at, byteCount: stop - at)
                    ByteDiff.addRun(&runs, offset: at, length: stop - at)
                    n = stop - at
                } else {
                    compared += stop - at
                    n = ByteDiff.diff(client: source, copy: mirror, start: at, end: stop, runs: &runs)
                }
                copied += n
                pending += n
                at = stop
                if pending >= SyncTuning.sendChunk {
                    send(&runs)
                    pending = 0
                }
            }
        }
        if !runs.isEmpty { send(&runs) }
        return (compared, copied)
    }
}
