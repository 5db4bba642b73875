/// Which windows synced lately, for the copy helper's one decision: take a
/// second core for a window's frame only when no other window of this
/// proxy drew within the last `quietNanoseconds`. A pure value, told of
/// every sync as it starts.
///
/// Why: the helper makes a lone 4K window's frames faster, but beside a
/// window that draws at once (an editor being typed in) the two copying
/// threads hold both cores of a small machine and the editor's client waits
/// for one: its p99 latency beside an unpaced 4K window went from +0.01 ms
/// to +0.6-1.1 ms (docs/benchmarks.md, "Two cores on one frame"). A second,
/// as for the bulk lane, covers a blinking cursor's half-second.
struct SyncActivity {
    static let quietNanoseconds: UInt64 = 1_000_000_000

    /// The channel that synced last, and the last other channel that did.
    private var last: (channel: UInt32, at: UInt64)?
    private var lastOther: (channel: UInt32, at: UInt64)?

    /// `channel` starts a sync at `now`.
    mutating func note(channel: UInt32, now: UInt64) {
        if let last, last.channel != channel { lastOther = last }
        last = (channel, now)
    }

    /// Whether no channel other than `channel` synced within the quiet time before `now`.
    func othersQuiet(besides channel: UInt32, now: UInt64) -> Bool {
        guard let other = last?.channel != channel ? last : lastOther else { return true }
        return now &- other.at >= Self.quietNanoseconds
    }
}
