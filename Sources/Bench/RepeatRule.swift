/// When the suite runs a case again: a ratio between modes of one round
/// (a mode's fps over direct's, a client's fps beside neighbours over its
/// fps alone) that moved by more than `maxSpread` across rounds says the
/// machine's load changed under the case, so the case gets another round,
/// at most `maxExtraRounds` times, the widest spread first, while the
/// repeats have taken less than `budgetSeconds` in all (a loaded machine
/// would otherwise repeat everything and double the suite).
public struct RepeatRule: Sendable, Equatable {
    /// Largest accepted (highest / lowest - 1) of a ratio across rounds.
    public var maxSpread: Double = 0.2
    /// Rounds added to one case at most.
    public var maxExtraRounds: Int = 2
    /// Time all repeats may take together.
    public var budgetSeconds: Double = 40

    public init(maxSpread: Double = 0.2, maxExtraRounds: Int = 2, budgetSeconds: Double = 40) {
        self.maxSpread = maxSpread
        self.maxExtraRounds = maxExtraRounds
        self.budgetSeconds = budgetSeconds
    }

    /// Which case runs again next, given each case's largest spread and
    /// extra rounds so far and the seconds repeats have taken: the widest
    /// spread of those that need a repeat, or nil when none does or the
    /// budget is spent.
    public func next(_ cases: [(spread: Double, extraRounds: Int)], spentSeconds: Double) -> Int? {
        guard spentSeconds < budgetSeconds else { return nil }
        let due = cases.indices.filter { cases[$0].extraRounds < maxExtraRounds && cases[$0].spread > maxSpread }
        return due.max { cases[$0].spread < cases[$1].spread }
    }

    /// highest / lowest - 1 of `values` (0 for fewer than two; infinity
    /// when one is 0 or not finite: a failed round is no measurement).
    public static func spread(_ values: [Double]) -> Double {
        guard values.count >= 2 else { return 0 }
        guard let lo = values.min(), let hi = values.max(), lo > 0, hi.isFinite else { return .infinity }
        return hi / lo - 1
    }

    /// The largest spread among the ratios (each one ratio's values, one per round).
    public static func largestSpread(_ ratios: [String: [Double]]) -> Double {
        ratios.values.map(spread).max() ?? 0
    }

    /// Whether a case whose ratios were `ratios` (per name, one value per
    /// round) and which already had `extraRounds` extra rounds runs again.
    public func needsRepeat(_ ratios: [String: [Double]], extraRounds: Int) -> Bool {
        extraRounds < maxExtraRounds && Self.largestSpread(ratios) > maxSpread
    }
}
