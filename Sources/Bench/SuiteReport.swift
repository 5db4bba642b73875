import Foundation

/// The suite's results turned into text: a console summary, the markdown
/// report, the JSON file and the gnuplot plot.
struct SuiteReport {
    let options: BenchSuite.Options
    let facts: MachineFacts
    let outcomes: [BenchSuite.Outcome]
    /// Mode labels in column order (direct, stream, waypipe, waypipe-lz4...).
    let labels: [String]
    let load: LoadReport
    let date: Date
    let framesNote: String
    /// The machine's memcpy of one 4K frame, before and after the suite.
    let memcpy: [MemcpyProbe]
    /// Extra rounds each repeated case got, by `key`.
    let repeated: [String: Int]

    static let beginMarker = "<!-- porthole bench --suite: generated section begins; edits inside are overwritten -->"
    static let endMarker = "<!-- porthole bench --suite: generated section ends -->"

    /// The matrix cells, in matrix order, without repeats.
    var cases: [BenchSuite.Case] {
        var seen = Set<String>()
        return outcomes.map(\.testCase).filter { !$0.isMixed && seen.insert(key($0)).inserted }
    }

    /// The mixed cases, in order, without repeats.
    var mixedCases: [BenchSuite.Case] {
        var seen = Set<String>()
        return outcomes.map(\.testCase).filter { $0.isMixed && seen.insert(key($0)).inserted }
    }

    static func key(_ c: BenchSuite.Case) -> String { "\(c.sizeLabel)/\(c.damageLabel)/\(c.clients)" }
    func key(_ c: BenchSuite.Case) -> String { Self.key(c) }

    /// The run of `label` in case `c` with the highest fps; a failure only if every run failed.
    func outcome(_ c: BenchSuite.Case, _ label: String) -> BenchSuite.Outcome? {
        let runs = outcomes.filter { key($0.testCase) == key(c) && $0.label == label }
        return runs.filter { $0.result != nil }.max { $0.result!.fps < $1.result!.fps } ?? runs.first
    }

    /// How many runs of `label` in case `c` failed, and how many there were.
    func failures(_ c: BenchSuite.Case, _ label: String) -> (failed: Int, runs: Int) {
        let runs = outcomes.filter { key($0.testCase) == key(c) && $0.label == label }
        return (runs.filter { $0.result == nil }.count, runs.count)
    }

    func result(_ c: BenchSuite.Case, _ label: String) -> BenchResult? { outcome(c, label)?.result }

    /// fps of `label` divided by fps of `base` in case `c`.
    func fpsRatio(_ c: BenchSuite.Case, _ label: String, _ base: String) -> Double? {
        guard let a = result(c, label), let b = result(c, base), b.fps > 0 else { return nil }
        return a.fps / b.fps
    }

    /// The issue's stream target in case `c`: ≥ 1.5× waypipe (no compression) fps at no more CPU per frame.
    func streamTarget(_ c: BenchSuite.Case) -> (ratio: Double, cpuRatio: Double, met: Bool)? {
        guard let s = result(c, "stream"), let w = result(c, "waypipe"), w.fps > 0,
              let sc = s.cpuSecondsPerFrame, let wc = w.cpuSecondsPerFrame, wc > 0 else { return nil }
        let ratio = s.fps / w.fps, cpu = sc / wc
        return (ratio, cpu, ratio >= 1.5 && cpu <= 1)
    }

    /// The issue's region and cooperative targets, measured when those modes ran.
    var modeTargets: [(String, String)] {
        func absent(_ mode: BenchMode) -> String? {
            labels.contains(mode.rawValue) ? nil : "not measured: mode not run"
        }
        func list(_ items: [String]) -> String { items.isEmpty ? "no case measured" : items.joined(separator: "; ") }
        var out: [(String, String)] = []
        let big = cases.filter { $0.width == 3840 && $0.pattern == .full }
        out.append(("`region` at 3840x2160 full damage ≥ 3× waypipe fps and ≥ 0.45× direct", absent(.region) ?? list(big.compactMap { c in
            guard let w = fpsRatio(c, "region", "waypipe"), let d = fpsRatio(c, "region", "direct") else { return nil }
            return "\(c.clients) client(s): \(Format.ratio(w)) waypipe, \(Format.ratio(d)) direct (\(w >= 3 && d >= 0.45 ? "met" : "missed"))"
        })))
        out.append(("`cooperative` ≥ 0.9× direct with 0 bytes copied", absent(.cooperative) ?? {
            let rows = cases.compactMap { c -> (Double, Double)? in
                guard let d = fpsRatio(c, "cooperative", "direct"), let r = result(c, "cooperative") else { return nil }
                return (d, r.copiedBytesPerFrame ?? .infinity)
            }
            let met = rows.filter { $0.0 >= 0.9 && $0.1 == 0 }.count
            return "met in \(met) of \(rows.count) cases; lowest \(Format.ratio(rows.map(\.0).min()))"
        }()))
        if let probe = fastestMemcpy {
            out.append(("`region` at 3840x2160 full damage: frame time − direct's ≤ 1.15× one memcpy of the frame (\(Format.ms(probe.fastest)) ms here)",
                        absent(.region) ?? list(big.compactMap { c in
                guard let extra = regionExtra(c) else { return nil }
                var text = "\(c.clients) client(s): +\(Format.ms(extra)) ms a frame, \(Format.ratio(extra / probe.fastest)) memcpy (\(extra <= 1.15 * probe.fastest ? "met" : "missed"))"
                if let median = regionExtraMedian(c) {
                    text += " — from median frame intervals +\(Format.ms(median)) ms, \(Format.ratio(median / probe.fastest)) (\(median <= 1.15 * probe.fastest ? "met" : "missed"))"
                }
                return text
            })))
        }
        let typing = cases.filter { $0.pattern == .typing }
        out.append(("typing: `stream` ≥ 1.5× waypipe fps with p50 ≤ waypipe's", list(typing.compactMap { c in
            guard let s = result(c, "stream"), let w = result(c, "waypipe"), w.fps > 0, let sp = s.latencyP50, let wp = w.latencyP50 else { return nil }
            return "\(c.sizeLabel) x\(c.clients): \(Format.ratio(s.fps / w.fps)), p50 \(Format.ms(sp)) vs \(Format.ms(wp)) ms (\(s.fps >= 1.5 * w.fps && sp <= wp ? "met" : "missed"))"
        })))
        out.append(("typing: `region` and `cooperative` p99 within 0.3 ms of direct (median over rounds of the p99 minus direct's in the same round)",
                    list(typing.flatMap { c in
            let differences = BenchSuite.roundP99Differences(c, outcomes)
            return BenchSuite.typingTargetModes.map(\.rawValue).compactMap { l -> String? in
                guard let values = differences[l], let median = Bench.median(values) else { return nil }
                let each = values.map { Format.signedMs($0) }.joined(separator: ", ")
                return "\(l) \(c.sizeLabel) x\(c.clients): \(Format.signedMs(median)) ms (rounds: \(each)) (\(median <= 0.0003 ? "met" : "missed"))"
            }
        })))
        let hd = cases.filter { $0.width == 1920 }
        out.append(("`region` p99 latency at 1920x1080 within 2 ms of direct", absent(.region) ?? list(hd.compactMap { c in
            guard let r = result(c, "region")?.latencyP99, let d = result(c, "direct")?.latencyP99 else { return nil }
            return "\(c.damageLabel) x\(c.clients): \(Format.signedMs(r - d)) ms (\(r - d <= 0.002 ? "met" : "missed"))"
        })))
        return out
    }

    // MARK: Console

    var summaryText: String {
        var rows: [[String]] = []
        for c in cases {
            var row = [c.sizeLabel, c.damageLabel, "\(c.clients)"]
            for l in labels { row.append(result(c, l).map { Format.fps($0.fps) } ?? "failed") }
            row.append(Format.ratio(fpsRatio(c, "stream", "waypipe")))
            row.append(Format.ratio(fpsRatio(c, "stream", "direct")))
            rows.append(row)
        }
        return "fps (all clients together)\n" + Format.table(["size", "damage", "clients"] + labels + ["stream/waypipe", "stream/direct"], rows)
    }

    // MARK: JSON

    func writeJSON(to path: String) throws {
        let items = outcomes.map { o -> String in
            if let r = o.result { return r.json }
            let error = o.error?.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") ?? "?"
            return "{\"mode\": \"\(o.label)\", \"size\": \"\(o.testCase.sizeLabel)\", \"pattern\": \"\(o.testCase.pattern.rawValue)\", \"clients\": \(o.testCase.clients), \"error\": \"\(error)\"}"
        } + outcomes.flatMap { o in o.alone.map { "{\"alone_for_mix\": \"\(o.testCase.sizeLabel)\", \"run\": \($0.json)}" } }
        let text = "[\n  " + items.joined(separator: ",\n  ") + "\n]\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    // MARK: Markdown

    func writeMarkdown(to path: String, plotWritten: Bool) throws {
        let generated = markdown(plotWritten: plotWritten)
        var text: String
        if let old = try? String(contentsOfFile: path, encoding: .utf8),
           let b = old.range(of: Self.beginMarker), let e = old.range(of: Self.endMarker), b.upperBound <= e.lowerBound {
            text = String(old[..<b.lowerBound]) + generated + String(old[e.upperBound...])
        } else {
            text = "# Benchmarks\n\n" + generated + "\n"
        }
        if !text.hasSuffix("\n") { text += "\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func markdown(plotWritten: Bool) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        var md: [String] = [Self.beginMarker, ""]
        md.append("## Results")
        md.append("")
        md.append("Measured on \(formatter.string(from: date)) with:")
        md.append("")
        md.append("```sh\n\(options.command)\n```")
        md.append("")
        md.append("| machine | |\n|---|---|")
        md.append("| CPU | \(facts.cpuModel), \(facts.cores) cores |")
        md.append("| memory | \(facts.memory) |")
        md.append("| kernel | \(facts.kernel) |")
        md.append("| OS | \(facts.os) |")
        md.append("| Swift | \(facts.swift) |")
        md.append("| porthole | \(facts.porthole) |")
        md.append("| waypipe | \(facts.waypipe) |")
        md.append("")
        md.append("Frames: \(framesNote).")
        md.append("")
        md.append("Load: \(load.sentence)")
        md.append("")
        md.append("Copy speed: " + memcpy.map(\.sentence).joined(separator: " before the suite; ") + " after.")
        md.append("")
        if plotWritten {
            md.append("![fps and latency per mode, size and damage](benchmarks.png)")
            md.append("")
        }

        md.append(contentsOf: mixedMarkdown)
        md.append("### Targets from issues 5 and 16")
        md.append("")
        md.append("Ratios are between modes of the same case in this run.")
        md.append("")
        md.append("| target | result |\n|---|---|")
        for line in modeTargets { md.append("| \(line.0) | \(line.1) |") }
        let streamCases = cases.compactMap { c in streamTarget(c).map { (c, $0) } }
        let met = streamCases.filter { $0.1.met }.count
        md.append("| `stream` ≥ 1.5× waypipe (no compression) fps at no more CPU per frame | met in \(met) of \(streamCases.count) cases measured (\(cases.count) in the matrix); per case below |")
        md.append("")
        var targetRows: [[String]] = []
        for c in cases {
            let t = streamTarget(c)
            let o = outcome(c, "stream")
            targetRows.append([c.sizeLabel, c.damageLabel, "\(c.clients)",
                               t.map { Format.ratio($0.ratio) } ?? (o?.error != nil ? "stream failed" : "n/a"),
                               t.map { Format.ratio($0.cpuRatio) } ?? "n/a",
                               t.map { $0.met ? "yes" : "no" } ?? "—"])
        }
        md.append(Format.markdown(["size", "damage", "clients", "stream fps ÷ waypipe fps", "stream CPU/frame ÷ waypipe CPU/frame", "target met"], targetRows, left: 3))
        md.append("")

        md.append("### All runs")
        md.append("")
        md.append("fps counts the frames of all clients together. Latency is from the client's commit to the sink reading it. CPU, link bytes and copies are per frame and cover the proxy processes only (direct has none: n/a); waypipe keeps no copy counter (n/a). Peak RSS is the sum of the proxies' VmHWM. `verified` frames had their pixels checked and right.")
        md.append("")
        var rows: [[String]] = []
        for c in cases {
            for l in labels {
                var row = [c.sizeLabel, c.damageLabel, "\(c.clients)", l]
                if let r = result(c, l) {
                    row += [Format.fps(r.fps), Format.ratio(fpsRatio(c, l, "direct")), Format.ratio(fpsRatio(c, l, "waypipe")),
                            Format.ms(r.latencyP50), Format.ms(r.latencyP99), Format.cpu(r.cpuSecondsPerFrame),
                            Format.bytes(r.linkBytesPerFrame), Format.bytes(r.copiedBytesPerFrame),
                            Format.bytes(r.peakRSSBytes.map { Double($0) }), "\(r.frames)", r.passed ? "\(r.verifiedFrames)" : "\(r.verifiedFrames) (\(r.failedFrames) wrong)"]
                    let f = failures(c, l)
                    if f.failed > 0 { row[3] += " (\(f.failed) of \(f.runs) runs failed)" }
                    if l == "region", c.width == 3840, c.pattern == .full, let probe = fastestMemcpy, let extra = regionExtra(c) {
                        row[3] += " (+\(Format.ms(extra)) ms/frame over direct = \(Format.ratio(extra / probe.fastest)) memcpy)"
                    }
                } else {
                    let e = (outcome(c, l)?.error ?? "failed").replacingOccurrences(of: "|", with: "/")
                    row += ["failed: \(e.prefix(160))"] + Array(repeating: "", count: 10)
                }
                rows.append(row)
            }
        }
        md.append(Format.markdown(["size", "damage", "clients", "mode", "fps", "× direct", "× waypipe", "p50 ms", "p99 ms",
                                   "proxy CPU/frame", "link/frame", "copied/frame", "proxy peak RSS", "frames", "verified"], rows, left: 4))
        md.append("")
        md.append("Raw numbers: [benchmarks.json](benchmarks.json).")
        md.append("")
        md.append(Self.endMarker)
        return md.joined(separator: "\n")
    }

    // MARK: Plot

    /// Writes the data and a gnuplot script next to `png` and runs gnuplot.
    /// False if gnuplot is missing or failed.
    func writePlot(png: String) -> Bool {
        let base = (png as NSString).deletingPathExtension
        let dataPath = NSTemporaryDirectory() + "/porthole-bench-plot-\(getpid()).dat"
        let scriptPath = NSTemporaryDirectory() + "/porthole-bench-plot-\(getpid()).gp"
        defer {
            try? FileManager.default.removeItem(atPath: dataPath)
            try? FileManager.default.removeItem(atPath: scriptPath)
        }
        _ = base
        // One block per (metric, clients): rows are cases, columns are modes.
        var data = ""
        let metrics: [(String, (BenchResult) -> Double?)] = [
            ("fps", { $0.fps }),
            ("p50", { $0.latencyP50.map { $0 * 1000 } }),
            ("p99", { $0.latencyP99.map { $0 * 1000 } }),
        ]
        let clientCounts = Array(Set(cases.map(\.clients))).sorted()
        var block = 0
        var blocks: [(metric: String, clients: Int, index: Int)] = []
        for (name, value) in metrics {
            for n in clientCounts {
                data += "case " + labels.joined(separator: " ") + "\n"
                for c in cases where c.clients == n {
                    let short = c.height >= 2160 ? "4K" : "\(c.height)p"
                    let dmg = c.pattern == .full ? "full" : c.pattern == .band ? "band" : c.pattern == .typing ? "type" : "scat"
                    let cells = labels.map { l -> String in
                        guard let r = result(c, l), let v = value(r), v > 0, v.isFinite else { return "?" }
                        return String(format: "%.4g", v)
                    }
                    data += "\"\(short) \(dmg)\" " + cells.joined(separator: " ") + "\n"
                }
                data += "\n\n"
                blocks.append((name, n, block))
                block += 1
            }
        }
        var gp = """
            set terminal pngcairo size 1500,1500 font "DejaVu Sans,10"
            set output '\(png)'
            set datafile missing '?'
            set style data histograms
            set style histogram clustered gap 1
            set style fill solid 0.85 border -1
            set boxwidth 0.9
            set logscale y
            set grid ytics
            set key top right font ",9"
            set xtics rotate by -30 font ",9"
            set multiplot layout 3,\(clientCounts.count) title "porthole bench --suite (sink compositor, \(facts.cpuModel), \(facts.cores) cores)"

            """
        for b in blocks {
            let title: String
            switch b.metric {
            case "fps": title = "frames/s, all clients (higher is better)"
            case "p50": title = "commit-to-arrival latency p50, ms (lower is better)"
            default: title = "commit-to-arrival latency p99, ms (lower is better)"
            }
            gp += "set title '\(title), \(b.clients) client\(b.clients == 1 ? "" : "s")'\n"
            gp += "set yrange [\(b.metric == "fps" ? "1" : "0.01"):*]\n"
            gp += "plot for [i=2:\(labels.count + 1)] '\(dataPath)' index \(b.index) using i:xtic(1) title columnheader(i)\n"
        }
        gp += "unset multiplot\n"
        do {
            try data.write(toFile: dataPath, atomically: true, encoding: .utf8)
            try gp.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        } catch { return false }
        guard run(["gnuplot", scriptPath]) != nil else { return false }
        return FileManager.default.fileExists(atPath: png)
    }
}
