/// The byte spans a commit's sync must bring up to date, handed out in
/// slices of bounded size, in pool order, so that a large sync (a 4K frame:
/// 33 MB) can be run a slice per loop turn with other channels' work in
/// between. A pure value: it only cuts ranges.
struct SyncSlices: Equatable {
    /// Spans still to do, in order, without overlaps.
    private var spans: [Range<Int>]
    /// Index of the span the next slice starts in.
    private var index = 0
    /// Where in that span it starts.
    private var position: Int
    /// Bytes not yet handed out.
    private(set) var remainingBytes: Int

    init(spans: [Range<Int>]) {
        var spans = spans
        // Damage gives no empty span unless a rectangle is zero-sized: the
        // list is taken as it is unless it has one (no copy per commit).
        if spans.contains(where: { $0.isEmpty }) { spans.removeAll { $0.isEmpty } }
        var bytes = 0
        for s in spans { bytes += s.count }
        self.spans = spans
        position = spans.first?.lowerBound ?? 0
        remainingBytes = bytes
    }

    var isDone: Bool { remainingBytes == 0 }

    /// The next pieces, `budget` bytes at most in all (at least one byte
    /// while any remain, so a budget below 1 still progresses).
    mutating func next(budget: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var left = max(1, budget)
        while left > 0 && index < spans.count {
            let span = spans[index]
            let end = min(span.upperBound, position + left)
            out.append(position..<end)
            left -= end - position
            remainingBytes -= end - position
            if end == span.upperBound {
                index += 1
                position = index < spans.count ? spans[index].lowerBound : 0
            } else {
                position = end
            }
        }
        return out
    }

    /// Everything left, at once: the list itself when nothing was handed
    /// out yet (a small commit's sync, run whole: no copy of its spans).
    mutating func rest() -> [Range<Int>] {
        guard index == 0, let first = spans.first, position == first.lowerBound else { return next(budget: remainingBytes) }
        index = spans.count
        position = 0
        remainingBytes = 0
        return spans
    }

    /// Everything left, without handing it out.
    func peekRest() -> [Range<Int>] {
        var copy = self
        return copy.rest()
    }
}
