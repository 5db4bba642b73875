import Glibc

/// CLOCK_MONOTONIC: the clock every thread and process on one machine
/// shares, so times taken in different processes (a commit and its arrival,
/// a present and its update) compare directly; for durations, never wall time.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary start (boot).
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
