/// One commit's sync in progress: which buffer, the spans still to do, and
/// what the pool decided for the whole commit at its first slice (copy
/// blind or compare; bytes the mirror had missed), so that running it in
/// slices gives the same bytes and the same tuning as running it at once.
struct SyncJob {
    let buffer: ShmBuffer
    let bufferID: UInt32
    /// No other buffer shares these pool bytes.
    let exclusive: Bool
    /// The damaged spans (pool byte offsets) still to sync.
    var slices: SyncSlices
    /// The pool has looked at the commit (`ClientPool.beginSync`).
    var started = false
    /// This commit copies without comparing.
    var blind = false
    /// Stream pools: this commit is sent from the client's memory, by reference.
    var byReference = false
    /// Bytes compared and bytes found changed, over the slices so far.
    var compared = 0
    var changed = 0
    /// Stream pools: byte ranges copied into the mirror at the start (it
    /// had missed them); their damaged parts are sent without comparing.
    var synced: [Range<Int>] = []
    /// Stream pools: `synced` is still to be copied into the mirror (by the
    /// first slice, or the copy thread).
    var syncedToCopy = false
    /// The rest of this commit is being synced by the worker.
    var offloaded: OffloadedCopy?

    init(buffer: ShmBuffer, bufferID: UInt32, rects: [Rect], exclusive: Bool) {
        self.buffer = buffer
        self.bufferID = bufferID
        self.exclusive = exclusive
        guard buffer.pool.copiesDamage(of: buffer) else {
            slices = SyncSlices(spans: [])
            return
        }
        var spans: [Range<Int>] = []
        spans.reserveCapacity(buffer.damagedSpanCount(rects))
        buffer.forEachDamagedSpan(rects) { spans.append($0..<$1) }
        slices = SyncSlices(spans: spans)
    }

    /// The commit is synced (every span done, or sent another way).
    var isDone: Bool { started && slices.isDone }

    /// One piece of a span: its bytes, and whether they lie in `synced`.
    typealias Piece = (range: Range<Int>, inSynced: Bool)

    /// Replaces `out` with the pieces of `spans`, in order, cut where they
    /// enter or leave `synced` (sorted, disjoint). A list rather than a
    /// callback: the sync's loop over them changes counters and a run list,
    /// which a closure would have to capture (and captured variables changed
    /// per piece cost a dynamic exclusivity check each); filled in place so
    /// that a reused list allocates nothing per commit.
    func pieces(of spans: [Range<Int>], into out: inout [Piece]) {
        out.removeAll(keepingCapacity: true)
        for span in spans {
            var at = span.lowerBound
            let end = span.upperBound
            for r in synced where r.upperBound > at && r.lowerBound < end {
                if r.lowerBound > at { out.append((at..<r.lowerBound, false)) }
                let inEnd = min(end, r.upperBound)
                out.append((max(at, r.lowerBound)..<inEnd, true))
                at = inEnd
            }
            if at < end { out.append((at..<end, false)) }
        }
    }
}
