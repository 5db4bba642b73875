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

    init(client: UnsafeMutableRawPointer, clientLength: Int, mirror: UnsafeMutableRawPointer, synced: [Range<Int>],
         pieces: [SyncJob.Piece], rows: RowFlip, blind: Bool, keepAlive: [AnyObject]) {
        self.client = client
        self.clientLength = clientLength
        self.mirror = mirror
        self.synced = synced
        self.pieces = pieces
        self.rows = rows
        self.blind = blind
        self.keepAlive = keepAlive
    }

    func run() {
        do {
            let guarded = try MemoryFaultGuard.reading(client, length: clientLength) { () -> Outcome in sync() }
            outcome = guarded.value
            outcome.faulted = guarded.faulted
        } catch {
            outcome.guardError = "\(error)"
        }
    }

    /// The copy and compare, inside the fault guard. Locals only in the
    /// loop (see `StreamPool.sendSpans` on exclusivity checks).
    private func sync() -> Outcome {
        var o = Outcome()
        let client = self.client, mirror = self.mirror, blind = self.blind, rows = self.rows
        for r in synced {
            (mirror + r.lowerBound).copyMemory(from: client + r.lowerBound, byteCount: r.count)
            o.synced += r.count
        }
        var runs: [UpdateRun] = []
        var batches: [[UpdateRun]] = []
        var pending = 0, compared = 0, copied = 0
        for (range, inSynced) in pieces {
            if inSynced {
                ByteDiff.addRun(&runs, offset: range.lowerBound, length: range.count)
                pending += range.count
            } else {
                let source = client + rows.shift(at: range.lowerBound)
                var at = range.lowerBound
                while at < range.upperBound {
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
                        batches.append(runs)
                        runs.removeAll(keepingCapacity: true)
                        pending = 0
                    }
                }
                continue
            }
            if pending >= SyncTuning.sendChunk {
                batches.append(runs)
                runs.removeAll(keepingCapacity: true)
                pending = 0
            }
        }
        if !runs.isEmpty { batches.append(runs) }
        o.compared = compared
        o.copied = copied
        o.batches = batches
        return o
    }
}
