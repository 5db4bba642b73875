/// When the suite runs a case again: a ratio between modes of one round
/// (a mode's fps over direct's, a client's fps beside neighbours over its
/// fps alone) that moved by more than `maxSpread` across rounds says the
/// machine's load changed under the case, so the case gets another round,
/// at most `maxExtraRounds` times.
public struct RepeatRule: Sendable, Equatable {
    /// Largest accepted (highest / lowest - 1) of a ratio across rounds.
    public var maxSpread: Double = 0.2
    /// Rounds added to one case at most.
    public var maxExtraRounds: Int = 2

    public init(maxSpread: Double = 0.2, maxExtraRounds: Int = 2) {
        self.maxSpread = maxSpread
        self.maxExtraRounds = maxExtraRounds
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
