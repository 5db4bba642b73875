import PortholeSystem

/// One commit's copy from a client's pool into its region chunk, packed so
/// that any thread can run it: addresses, spans and whether to compare, with
/// the two mappings held alive until it is done (a client that disconnects
/// meanwhile unmaps nothing under it). The loop runs small ones itself; a
/// large one goes to the `BackgroundWorker` (`SyncOffload`).
final class RegionCopyWork: DetachedSync, @unchecked Sendable {
    /// What a run did.
    struct Outcome: Sendable {
        var compared = 0
        var copied = 0
        /// Of `copied`, bytes the copy helper copied.
        var helped = 0
        /// The client's file shrank under the read (see `MemoryFaultGuard`).
        var faulted = false
        /// The fault guard could not be set up (this thread already guards).
        var guardError: String?
    }

    let client: UnsafeMutableRawPointer
    let clientLength: Int
    let copy: UnsafeMutableRawPointer
    /// Pool bytes to bring up to date; each is read where `rows` says in the
    /// client's memory (a y-inverted buffer's rows run backwards).
    let spans: [Range<Int>]
    let rows: RowFlip
    /// Copy without comparing.
    let blind: Bool
    /// For work run on another thread: the client's mapping and the region,
    /// kept mapped while this exists (empty when the loop runs it).
    let keepAlive: [AnyObject]
    /// What `run` did (see `DetachedSync` for who reads it when).
    private(set) var outcome = Outcome()
    /// Called between pieces of a large span: `ThreadScheduling.offerCPU`
    /// on the copy thread, nothing on the loop (whose syncs are sliced).
    let offerCPU: () -> Void

    init(client: UnsafeMutableRawPointer, clientLength: Int, copy: UnsafeMutableRawPointer, spans: [Range<Int>], rows: RowFlip,
         blind: Bool, keepAlive: [AnyObject], offerCPU: @escaping () -> Void = {}) {
        self.client = client
        self.clientLength = clientLength
        self.copy = copy
        self.spans = spans
        self.rows = rows
        self.blind = blind
        self.keepAlive = keepAlive
        self.offerCPU = offerCPU
    }

    /// Copies the spans (blind: all of them; else only bytes that differ).
    /// A blind copy of a large span streams past the cache: the compositor
    /// reads the frame from memory either way, and the client's next frame
    /// stays cached.
    /// With a `helper`, a large blind span is copied by two threads; the
    /// helper's chunks offer nothing (the helper joins only a lone window's
    /// copies, and offering there cost that window 5-15% of its rate, the
    /// compositor's work on the frame before going first, with no other
    /// window to gain). Without, `offerCPU` runs between pieces of
    /// `ThreadScheduling.bulkPiece`.
    func run(helper: CopyHelper?) {
        do {
            let clientRange = UnsafeRawBufferPointer(start: client, count: clientLength)
            var helped = 0, helperFaulted = false
            let guarded = try MemoryFaultGuard.reading(client, length: clientLength) { () -> (Int, Int) in
                var compared = 0, copied = 0
                for span in spans {
                    let source = client + rows.shift(at: span.lowerBound)
                    if blind {
                        if let helper {
                            let share = helper.copy(to: copy + span.lowerBound, from: source + span.lowerBound, count: span.count,
                                                    guarded: clientRange)
                            helped += share.bytes
                            helperFaulted = helperFaulted || share.faulted
                        } else {
                            StreamingCopy.copyInPieces(to: copy + span.lowerBound, from: source + span.lowerBound, count: span.count,
                                                       between: offerCPU)
                        }
                        copied += span.count
                    } else {
                        compared += span.count
                        var at = span.lowerBound
                        while at < span.upperBound {
                            if at > span.lowerBound { offerCPU() }
                            let stop = min(span.upperBound, at + ThreadScheduling.bulkPiece)
                            copied += ByteDiff.diff(client: source, copy: copy, start: at, end: stop)
                            at = stop
                        }
                    }
                }
                return (compared, copied)
            }
            (outcome.compared, outcome.copied) = guarded.value
            outcome.helped = helped
            outcome.faulted = guarded.faulted || helperFaulted
        } catch {
            outcome.guardError = "\(error)"
        }
    }
}
