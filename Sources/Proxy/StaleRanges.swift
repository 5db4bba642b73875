/// Pool byte ranges whose mirror bytes are not what the host has (they were
/// sent straight from the client's memory): sorted, disjoint, bounded.
struct StaleRanges: Equatable {
    private(set) var ranges: [Range<Int>] = []

    /// Most ranges kept; beyond it they merge into one (syncing more bytes
    /// than needed is still right).
    static let maxRanges = 64

    var isEmpty: Bool { ranges.isEmpty }

    func overlaps(_ r: Range<Int>) -> Bool { ranges.contains { $0.overlaps(r) } }

    mutating func insert(_ r: Range<Int>) {
        guard !r.isEmpty else { return }
        var merged = r
        var kept: [Range<Int>] = []
        for s in ranges {
            if s.overlaps(merged) || s.upperBound == merged.lowerBound || merged.upperBound == s.lowerBound {
                merged = min(s.lowerBound, merged.lowerBound)..<max(s.upperBound, merged.upperBound)
            } else {
                kept.append(s)
            }
        }
        kept.append(merged)
        ranges = kept.sorted { $0.lowerBound < $1.lowerBound }
        if ranges.count > Self.maxRanges { ranges = [ranges.first!.lowerBound..<ranges.map(\.upperBound).max()!] }
    }

    /// Removes and returns the stale parts of `r`.
    mutating func take(in r: Range<Int>) -> [Range<Int>] {
        let taken = ranges.compactMap { s -> Range<Int>? in
            let c = s.clamped(to: r)
            return c.isEmpty ? nil : c
        }
        remove(r)
        return taken
    }

    mutating func remove(_ r: Range<Int>) {
        var kept: [Range<Int>] = []
        for s in ranges {
            guard s.overlaps(r) else { kept.append(s); continue }
            if s.lowerBound < r.lowerBound { kept.append(s.lowerBound..<r.lowerBound) }
            if r.upperBound < s.upperBound { kept.append(r.upperBound..<s.upperBound) }
        }
        ranges = kept
    }
}
