import Foundation

/// Human-readable numbers for tables.
enum Format {
    static func fps(_ v: Double) -> String { v >= 100 ? String(format: "%.0f", v) : String(format: "%.1f", v) }

    static func ms(_ seconds: Double?) -> String {
        guard let s = seconds else { return "n/a" }
        let ms = s * 1000
        return ms >= 100 ? String(format: "%.0f", ms) : ms >= 10 ? String(format: "%.1f", ms) : String(format: "%.2f", ms)
    }

    /// A difference in milliseconds with its sign: "+0.25", "-1.54".
    static func signedMs(_ seconds: Double) -> String { (seconds >= 0 ? "+" : "") + ms(seconds) }

    static func bytes(_ v: Double?) -> String {
        guard let v else { return "n/a" }
        let units = ["B", "KiB", "MiB", "GiB"]
        var x = v, i = 0
        while x >= 1024 && i < units.count - 1 { x /= 1024; i += 1 }
        return i == 0 ? String(format: "%.0f B", x) : String(format: x >= 100 ? "%.0f %@" : "%.1f %@", x, units[i])
    }

    static func cpu(_ v: Double?) -> String {
        guard let v else { return "n/a" }
        return String(format: "%.1f ms", v * 1000)
    }

    static func ratio(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "n/a" }
        return String(format: v >= 10 ? "%.0f×" : "%.2f×", v)
    }

    /// Rows of cells as a padded text table with a rule under the header.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == 0 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                                                    : String(repeating: " ", count: widths[i] - c.count) + c }.joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line)).joined(separator: "\n")
    }

    /// A markdown table: the first `left` columns left-aligned, the rest right-aligned.
    static func markdown(_ header: [String], _ rows: [[String]], left: Int = 1) -> String {
        let rule = header.indices.map { $0 < left ? "---" : "---:" }
        return ([header, rule] + rows).map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n")
    }
}

extension BenchResult {
    /// The header of `tableRow`.
    public static let tableHeader = ["mode", "fps", "p50 ms", "p99 ms", "proxy CPU/frame", "link/frame", "copied/frame", "proxy peak RSS", "frames", "verified"]

    /// This result as cells under `tableHeader`.
    public var tableRow: [String] {
        [config.modeLabel, Format.fps(fps), Format.ms(latencyP50), Format.ms(latencyP99), Format.cpu(cpuSecondsPerFrame),
         Format.bytes(linkBytesPerFrame), Format.bytes(copiedBytesPerFrame), Format.bytes(peakRSSBytes.map { Double($0) }),
         "\(frames)", config.compositor == .sink ? "\(verifiedFrames)" : "\(verifiedFrames) (count)"]
    }

    /// Results as a text table.
    public static func table(_ results: [BenchResult]) -> String { Format.table(tableHeader, results.map(\.tableRow)) }
}
