import Foundation

/// The parts of the report issue 16 asked for: the mixed case (each window
/// beside its neighbour and alone), what a region frame costs beyond one
/// memcpy, and which cases were repeated.
extension SuiteReport {
    /// The faster of the memcpy probes (before and after the suite).
    var fastestMemcpy: MemcpyProbe? { memcpy.min { $0.fastest < $1.fastest } }

    /// A region frame's time minus a direct frame's, in seconds, in case `c`
    /// (fps counts all clients' frames, so this is per frame of the whole run).
    func regionExtra(_ c: BenchSuite.Case) -> Double? {
        guard let r = result(c, "region"), let d = result(c, "direct"), r.fps > 0, d.fps > 0 else { return nil }
        return 1 / r.fps - 1 / d.fps
    }

    /// The same from the median commit-to-commit interval (a client's,
    /// shared among the case's clients): what a frame costs when the
    /// machine is not busy elsewhere.
    func regionExtraMedian(_ c: BenchSuite.Case) -> Double? {
        guard let r = result(c, "region")?.frameIntervalP50, let d = result(c, "direct")?.frameIntervalP50 else { return nil }
        return (r - d) / Double(max(c.clients, 1))
    }

    /// The mode labels of case `c`: the suite's, then any of its own
    /// (stream/2-guests).
    func labels(of c: BenchSuite.Case) -> [String] {
        let own = outcomes.filter { key($0.testCase) == key(c) }.map(\.label)
        var seen = Set<String>()
        return (labels + own).filter { own.contains($0) && seen.insert($0).inserted }
    }

    /// (mode, client index, the mix's result, the client's run alone) of every mixed case.
    private func mixedRows(_ c: BenchSuite.Case) -> [[String]] {
        var rows: [[String]] = []
        for l in labels(of: c) {
            guard let o = outcome(c, l) else { continue }
            guard let mixed = o.result else {
                rows.append([l, "failed: \((o.error ?? "").replacingOccurrences(of: "|", with: "/").prefix(120))"] + Array(repeating: "", count: 8))
                continue
            }
            for (k, client) in mixed.perClient.enumerated() {
                let alone = k < o.alone.count ? o.alone[k] : nil
                let a = alone?.perClient.first
                let added = client.latencyP99.flatMap { m in a?.latencyP99.map { m - $0 } }
                let verified = mixed.passed && alone?.passed == true
                rows.append([l, client.spec.description, Format.fps(client.fps), Format.ms(client.latencyP50), Format.ms(client.latencyP99),
                             a.map { Format.fps($0.fps) } ?? "n/a", Format.ms(a?.latencyP50), Format.ms(a?.latencyP99),
                             added.map(Format.signedMs) ?? "n/a",
                             verified ? "\(client.frames) + \(a?.frames ?? 0)" : "NO (\(mixed.failedFrames + (alone?.failedFrames ?? 0)) wrong)"])
            }
        }
        return rows
    }

    static let mixedHeader = ["mode", "client", "fps beside", "p50 ms", "p99 ms", "fps alone", "p50 ms alone", "p99 ms alone",
                              "p99 added ms", "verified frames (beside + alone)"]

    /// The mixed cases for the console.
    var mixedText: String {
        mixedCases.map { c in
            "mixed \(c.sizeLabel), " + (c.guests > 1 ? "\(c.guests) guest proxies, one host proxy" : "one proxy pair") + "\n"
                + Format.table(Self.mixedHeader, mixedRows(c))
        }.joined(separator: "\n")
    }

    /// The typing client's p99 beside its neighbour minus alone, per mode, with the issue's 1 ms target.
    func mixedTarget(_ c: BenchSuite.Case) -> String {
        let items = labels(of: c).filter { $0.hasPrefix("stream") || $0.hasPrefix("region") }.compactMap { l -> String? in
            guard let o = outcome(c, l), let mixed = o.result, let k = mixed.perClient.indices.last, k < o.alone.count,
                  let m = mixed.perClient[k].latencyP99, let a = o.alone[k].perClient.first?.latencyP99 else { return nil }
            return "\(l): \(Format.ms(m)) ms beside, \(Format.ms(a)) ms alone (\(Format.signedMs(m - a)), \(m - a <= 0.001 ? "met" : "missed"))"
        }
        return items.isEmpty ? "not measured" : items.joined(separator: "; ")
    }

    /// The markdown section of the mixed cases and repeats.
    var mixedMarkdown: [String] {
        var md: [String] = []
        for c in mixedCases {
            if c.guests > 1 {
                md.append("### Two VMs on one host: \(c.mix.map(\.description).joined(separator: " in one, ")) in the other")
                md.append("")
                md.append("Stream mode, each window through a guest proxy of its own (as each in its own VM), both guests linked to one host proxy: the host's loop and receive threads are shared, nothing else.")
                md.append("")
            } else {
                md.append("### A desktop: \(c.sizeLabel) through one proxy pair")
                md.append("")
            }
            let paced = c.mix.compactMap { s in s.rate.map { "\(s.sizeLabel) at most \($0) frames a second" } }
            let pace = paced.isEmpty ? "Each client drew as fast as its frame callbacks came back"
                                     : "Each client drew as fast as its frame callbacks came back (\(paced.joined(separator: ", ")): a video playing)"
            md.append("\(pace), first alone, then beside the other (the run stops when one has drawn its frames, so every measured frame had its neighbour). Latency is commit to arrival at the sink; every frame was verified.")
            md.append("")
            md.append(Format.markdown(Self.mixedHeader, mixedRows(c), left: 2))
            md.append("")
            md.append("Target (issue 16): the last client's p99 beside its neighbour within 1 ms of its p99 alone — \(mixedTarget(c)).")
            md.append("")
        }
        if !repeated.isEmpty {
            let names = repeated.sorted { $0.key < $1.key }.map { item -> String in
                let parts = item.key.split(separator: "/")
                return parts.count == 3 ? "\(parts[0]) \(parts[1]) x\(parts[2]) (\(item.value)×)" : "\(item.key) (\(item.value)×)"
            }
            md.append("Repeated because a ratio moved by more than 20% across rounds: " + names.joined(separator: ", ") + ".")
            md.append("")
        }
        return md
    }
}
