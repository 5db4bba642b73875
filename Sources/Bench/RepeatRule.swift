/// When the suite runs a case again. Two things say the machine's load
/// changed under a case between rounds: a ratio between modes of one round
/// (a mode's fps over direct's, a client's fps beside neighbours over its
/// fps alone) that moved by more than `maxSpread`, or a latency difference
/// between modes of one round (a typing case's p99 minus direct's) whose
/// values lie further apart than `maxLatencyRange` — the margin the typing
/// target itself allows, so one round cannot decide it. Such a case gets
/// another round, at most `maxExtraRounds` times, the case furthest over
/// its bound first, while the repeats have taken less than `budgetSeconds`
/// in all (a loaded machine would otherwise repeat everything and double
/// the suite).
public struct RepeatRule: Sendable, Equatable {
    /// How far one case's rounds disagree: the largest ratio spread and the
    /// widest range of a latency difference (seconds).
    public struct Disagreement: Sendable, Equatable {
        public var ratioSpread: Double
        public var latencyRange: Double

        public init(ratioSpread: Double, latencyRange: Double = 0) {
            self.ratioSpread = ratioSpread
            self.latencyRange = latencyRange
        }
    }

    /// Largest accepted (highest / lowest - 1) of a ratio across rounds.
    public var maxSpread: Double = 0.2
    /// Largest accepted (highest - lowest) of a latency difference across rounds, seconds.
    public var maxLatencyRange: Double = 0.0003
    /// Rounds added to one case at most.
    public var maxExtraRounds: Int = 2
    /// Time all repeats may take together.
    public var budgetSeconds: Double = 40

    public init(maxSpread: Double = 0.2, maxLatencyRange: Double = 0.0003, maxExtraRounds: Int = 2, budgetSeconds: Double = 40) {
        self.maxSpread = maxSpread
        self.maxLatencyRange = maxLatencyRange
        self.maxExtraRounds = maxExtraRounds
        self.budgetSeconds = budgetSeconds
    }

    /// How many times over its bound `d` is (above 1: the case runs again).
    public func excess(_ d: Disagreement) -> Double {
        max(d.ratioSpread / maxSpread, d.latencyRange / maxLatencyRange)
    }

    /// Which case runs again next, given how far each case's rounds
    /// disagree and its extra rounds so far, and the seconds repeats have
    /// taken: the one furthest over its bound of those that need a repeat,
    /// or nil when none does or the budget is spent.
    public func next(_ cases: [(disagreement: Disagreement, extraRounds: Int)], spentSeconds: Double) -> Int? {
        guard spentSeconds < budgetSeconds else { return nil }
        let due = cases.indices.filter { needsRepeat(cases[$0].disagreement, extraRounds: cases[$0].extraRounds) }
        return due.max { excess(cases[$0].disagreement) < excess(cases[$1].disagreement) }
    }

    /// highest / lowest - 1 of `values` (0 for fewer than two; infinity
    /// when one is 0 or not finite: a failed round is no measurement).
    public static func spread(_ values: [Double]) -> Double {
        guard values.count >= 2 else { return 0 }
        guard let lo = values.min(), let hi = values.max(), lo > 0, hi.isFinite else { return .infinity }
        return hi / lo - 1
    }

    /// highest - lowest of `values` (0 for fewer than two; infinity when one
    /// is not finite).
    public static func range(_ values: [Double]) -> Double {
        guard values.count >= 2 else { return 0 }
        guard values.allSatisfy(\.isFinite), let lo = values.min(), let hi = values.max() else { return .infinity }
        return hi - lo
    }

    /// The largest spread among the ratios (each one ratio's values, one per round).
    public static func largestSpread(_ ratios: [String: [Double]]) -> Double {
        ratios.values.map(spread).max() ?? 0
    }

    /// The widest range among the latency differences (each one difference's values, one per round).
    public static func widestRange(_ differences: [String: [Double]]) -> Double {
        differences.values.map(range).max() ?? 0
    }

    /// Whether a case whose rounds disagree by `d` and which already had
    /// `extraRounds` extra rounds runs again.
    public func needsRepeat(_ d: Disagreement, extraRounds: Int) -> Bool {
        extraRounds < maxExtraRounds && excess(d) > 1
    }
}
