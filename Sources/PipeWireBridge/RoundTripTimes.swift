/// How long each imported frame took from PipeWire's hand-over (before the
/// copy) to every consumer's release: the import's own latency, on one
/// clock. Keeps the first `capacity` samples, so a long run holds bounded
/// memory; percentiles are over those.
public struct RoundTripTimes: Sendable {
    public static let capacity = 100_000
    private var samples: [UInt64] = []

    public init() {}

    public mutating func add(nanoseconds: UInt64) {
        if samples.count < Self.capacity { samples.append(nanoseconds) }
    }

    /// The `fraction` percentile in milliseconds (nil: no sample yet).
    public func milliseconds(_ fraction: Double) -> Double? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
        return Double(sorted[max(0, index)]) / 1e6
    }

    /// "; copy to release p50 X ms, p99 Y ms", or "" without samples.
    public var text: String {
        guard let p50 = milliseconds(0.5), let p99 = milliseconds(0.99) else { return "" }
        func ms(_ v: Double) -> String {
            let hundredths = Int((v * 100).rounded())
            let cents = hundredths % 100
            return "\(hundredths / 100).\(cents < 10 ? "0" : "")\(cents)"
        }
        return "; copy to release p50 \(ms(p50)) ms, p99 \(ms(p99)) ms"
    }
}
