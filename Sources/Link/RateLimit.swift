/// A token bucket: on average `perSecond` events a second, and up to
/// `burst` at once after a quiet spell. Time comes from the caller, so a
/// test can play it.
struct RateLimit {
    let perSecond: Double
    let burst: Double
    private var tokens: Double
    private var last: UInt64?

    init(perSecond: Int, burst: Int) {
        self.perSecond = Double(max(perSecond, 0))
        self.burst = Double(max(burst, 1))
        tokens = self.burst
    }

    /// Whether one more event may happen at `now` (nanoseconds, monotonic); if so it is counted.
    mutating func admit(now: UInt64) -> Bool {
        if let last, now > last { tokens = min(burst, tokens + Double(now - last) / 1e9 * perSecond) }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
