/// Which channels a guest moves to its link's bulk lane (link-protocol.md
/// §14): a pure value, told of every frame a channel queues, and the time.
///
/// The lane exists to keep **light** channels (a terminal, a cursor, an
/// editor) from waiting behind **bulk** ones (a video, a window being
/// resized). A channel is light once it has sent `lightStreak` update calls
/// in a row under `lightUpdate` each: a window's first frames are whole,
/// and a typing window's next ones a few KiB. A client that has drawn
/// nothing yet is neither: eight windows starting together are not light
/// while their first frames are on their way. A channel that is not light moves once it has sent
/// `bulkBytes` of updates within a second while a light channel queued
/// something within a second. Without one there is no one to protect, and
/// the lane's thread hand-overs cost a bulk channel about a tenth of its
/// frame rate here: a window alone, or eight video windows together, stay
/// on the main connection (docs/benchmarks.md, "The bulk lane").
struct LanePolicy {
    static let bulkBytes = 64 << 20
    /// A sync sends a frame's changes in calls of about 1 MiB
    /// (`SyncTuning.sendChunk`); a few typed characters are a few KiB.
    static let lightUpdate = 256 << 10
    static let lightStreak = 4
    static let second: UInt64 = 1_000_000_000
    /// Channels followed at once; beyond, following starts afresh (the ids
    /// of closed channels are not told apart, and a guest may open
    /// thousands of windows over time).
    static let maxFollowed = 4096

    private struct Channel {
        /// Start of its current second, and its update bytes since.
        var since: UInt64
        var bytes = 0
        /// Update calls under `lightUpdate` since its last larger one, or its first.
        var smallStreak = 0
        var isLight: Bool { smallStreak >= LanePolicy.lightStreak }
    }
    private var channels: [UInt32: Channel] = [:]
    /// The light channel that queued a frame last, and the last other light channel that did.
    private var lastLight: (channel: UInt32, at: UInt64) = (0, 0)
    private var lastOtherLight: (channel: UInt32, at: UInt64) = (0, 0)

    /// A frame other than an update, of a channel not on the lane.
    mutating func noteFrame(channel: UInt32, now: UInt64) {
        if channels[channel]?.isLight == true { noteLight(channel, now) }
    }

    /// An update call of `bytes` from a channel not on the lane: whether
    /// the channel moves to the lane now (it is then forgotten here).
    mutating func noteUpdate(channel: UInt32, bytes: Int, now: UInt64) -> Bool {
        var c = channels[channel] ?? Channel(since: now)
        if now &- c.since >= Self.second {
            c.since = now
            c.bytes = 0
        }
        c.bytes += bytes
        c.smallStreak = bytes < Self.lightUpdate ? c.smallStreak + 1 : 0
        if c.isLight { noteLight(channel, now) }
        if !c.isLight && c.bytes >= Self.bulkBytes && lightActive(besides: channel, now: now) {
            channels[channel] = nil
            return true
        }
        if channels.count >= Self.maxFollowed && channels[channel] == nil { channels.removeAll() }
        channels[channel] = c
        return false
    }

    private mutating func noteLight(_ channel: UInt32, _ now: UInt64) {
        if channel != lastLight.channel { lastOtherLight = lastLight }
        lastLight = (channel, now)
    }

    /// Whether a light channel other than `channel` queued a frame within the last second.
    private func lightActive(besides channel: UInt32, now: UInt64) -> Bool {
        let other = lastLight.channel != channel ? lastLight : lastOtherLight
        return other.at != 0 && now &- other.at < Self.second
    }
}
