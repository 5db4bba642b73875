/// A point on the monotonic clock after which a wait gives up.
struct Deadline {
    private let end: ContinuousClock.Instant

    /// The deadline `timeout` from now.
    init(after timeout: Duration) { end = ContinuousClock.now.advanced(by: timeout) }

    /// Milliseconds left (0 once passed), rounded up, as poll(2) wants them.
    var remainingMilliseconds: Int32 {
        let left = ContinuousClock.now.duration(to: end)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }

    /// Whether the deadline has passed.
    var hasPassed: Bool { ContinuousClock.now >= end }
}

extension Duration {
    /// The duration in whole nanoseconds (negative durations count as zero).
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
