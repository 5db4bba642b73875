import Foundation

/// Every measured frame of a run as one CSV line, for finding where a tail
/// comes from: which frames were slow, and what else was in flight then.
/// Times are CLOCK_MONOTONIC nanoseconds (`MonotonicClock`), the clock
/// `perf record -k CLOCK_MONOTONIC` stamps its samples with, so a slow frame
/// can be found in a trace taken at the same time. A file given to several
/// runs (modes, a mixed run's clients alone and together) gets each run's
/// lines appended, told apart by their first three columns.
enum FrameLog {
    static let header = "mode,layout,client,spec,frame,committed_ns,arrived_ns,latency_ms\n"

    /// One frame: its client, number, commit time and arrival (0: never came).
    struct Row: Equatable {
        var client: Int
        var frame: Int
        var committed: UInt64
        var arrived: UInt64
    }

    /// The lines for `rows` of a run of `config`.
    static func lines(_ rows: [Row], config: BenchConfig) -> String {
        let specs = config.clientSpecs
        var out = ""
        for r in rows {
            let spec = r.client < specs.count ? specs[r.client].description : ""
            let latency = r.arrived >= r.committed && r.arrived != 0 && r.committed != 0
                ? String(format: "%.4f", Double(r.arrived - r.committed) / 1e6) : ""
            out += "\(config.modeLabel),\(config.layoutLabel),\(r.client),\(spec),\(r.frame),\(r.committed),\(r.arrived),\(latency)\n"
        }
        return out
    }

    /// Appends `rows` to the file at `path`, writing the header first if it is new or empty.
    static func append(_ rows: [Row], config: BenchConfig, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw BenchError("cannot create the frame log \(path)") }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw BenchError("cannot open the frame log \(path)") }
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        try handle.write(contentsOf: Data(((end == 0 ? header : "") + lines(rows, config: config)).utf8))
    }
}
