import Foundation

/// A mixed run (several windows of different kinds through one proxy pair)
/// beside each of its clients run alone in the same mode, one after the
/// other in the same invocation: what a neighbour costs each window.
public struct MixedComparison: Sendable {
    public var mixed: BenchResult
    /// One run per client of the mix, that client alone, in mix order.
    public var alone: [BenchResult]

    /// Runs each client alone, then the mix (`config.mix` must not be empty).
    public static func run(_ config: BenchConfig, log: (String) -> Void = { _ in }) throws -> MixedComparison {
        guard config.isMixed else { throw BenchError("a mixed comparison needs clients given with --client") }
        var alone: [BenchResult] = []
        for spec in config.mix {
            var single = config
            single.mix = [spec]
            alone.append(try BenchRunner.run(single, log: log))
        }
        return MixedComparison(mixed: try BenchRunner.run(config, log: log), alone: alone)
    }

    public var passed: Bool { mixed.passed && alone.allSatisfy(\.passed) }

    /// Client `i`'s p99 latency beside its neighbours over its p99 alone.
    public func p99Ratio(client i: Int) -> Double? {
        guard i < mixed.perClient.count, i < alone.count, let m = mixed.perClient[i].latencyP99,
              let a = alone[i].perClient.first?.latencyP99, a > 0 else { return nil }
        return m / a
    }

    /// Client `i`'s p99 latency beside its neighbours minus its p99 alone, in seconds.
    public func p99Added(client i: Int) -> Double? {
        guard i < mixed.perClient.count, i < alone.count, let m = mixed.perClient[i].latencyP99,
              let a = alone[i].perClient.first?.latencyP99 else { return nil }
        return m - a
    }

    public static let tableHeader = ["mode", "client", "fps mixed", "p50 ms", "p99 ms", "fps alone", "p50 ms", "p99 ms",
                                     "p99 mixed/alone", "p99 added ms", "verified"]

    /// One row per client.
    public var tableRows: [[String]] {
        mixed.perClient.enumerated().map { i, c in
            let a = i < alone.count ? alone[i].perClient.first : nil
            let verified = mixed.passed && (i < alone.count && alone[i].passed) ? "yes" : "NO"
            return [mixed.config.modeLabel, c.spec.description, Format.fps(c.fps), Format.ms(c.latencyP50), Format.ms(c.latencyP99),
                    a.map { Format.fps($0.fps) } ?? "n/a", Format.ms(a?.latencyP50), Format.ms(a?.latencyP99),
                    Format.ratio(p99Ratio(client: i)), Format.ms(p99Added(client: i)), verified]
        }
    }

    public static func table(_ comparisons: [MixedComparison]) -> String {
        Format.table(tableHeader, comparisons.flatMap(\.tableRows))
    }
}
