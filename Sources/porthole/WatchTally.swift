import Harness

/// What `porthole buffers watch` counts: updates, how many passed their
/// check, and the latencies of those whose stamp shares our clock.
struct WatchTally {
    enum Result {
        case verified(latency: UInt64?)
        case unstamped
        case bad(String)
    }

    private(set) var updates = 0
    private(set) var verified = 0
    private(set) var bad = 0
    private var latencies: [UInt64] = []
    /// When the first and the last update arrived (monotonic nanoseconds).
    private var first: UInt64?
    private var last: UInt64?

    /// Checks the stamp of the bytes of an update of `sequence`.
    static func check(_ bytes: UnsafeRawBufferPointer, sequence: UInt32, now: UInt64) -> Result {
        guard let base = bytes.baseAddress, let stamp = FrameStamp.read(base, size: bytes.count) else { return .unstamped }
        guard stamp.sequence == sequence else { return .bad("the stamp says sequence \(stamp.sequence)") }
        guard FrameStamp.verify(base, size: bytes.count, sequence: sequence) else { return .bad("checksum mismatch") }
        // A producer on another machine (a VM) has another clock.
        let latency = now >= stamp.time && now - stamp.time < 60_000_000_000 ? now - stamp.time : nil
        return .verified(latency: latency)
    }

    mutating func add(_ r: Result, at now: UInt64) {
        updates += 1
        if first == nil { first = now }
        last = now
        switch r {
        case .verified(let latency):
            verified += 1
            if let latency { latencies.append(latency) }
        case .unstamped: break
        case .bad: bad += 1
        }
    }

    /// "N updates (V verified, B bad) in S s: R updates/s; latency p50 X
    /// ms, p99 Y ms". The rate is over the time updates flowed (first to
    /// last), not the time spent waiting for the first.
    func line(seconds: Double) -> String {
        var rate = 0.0
        if let first, let last, updates > 1, last > first {
            rate = Double(updates - 1) / (Double(last - first) / 1e9)
        } else if seconds > 0 {
            rate = Double(updates) / seconds
        }
        var text = "\(updates) updates (\(verified) verified, \(bad) bad) in \(String(format: "%.2f", seconds)) s: "
            + "\(String(format: "%.1f", rate)) updates/s"
        if !latencies.isEmpty {
            let sorted = latencies.sorted()
            func ms(_ q: Double) -> String { String(format: "%.2f", Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / 1e6) }
            text += "; latency p50 \(ms(0.5)) ms, p99 \(ms(0.99)) ms"
        }
        return text
    }
}
