/// How far the data of one `resourceUpdate` has been received into its
/// target: the frame's ranges in order, the range being filled and the bytes
/// of it written. A value, so the loop can hand it to a receive thread and
/// take it back (`BulkReceive`).
struct UpdateProgress: Sendable {
    let channel: UInt32
    let resource: UInt32
    let ranges: [UpdateRange]
    /// The range being filled.
    private(set) var index = 0
    /// Bytes of `ranges[index]` already written.
    private(set) var done = 0
    /// Data bytes of the frame not received yet.
    private(set) var remaining: Int
    /// The whole frame's length, header included.
    let frameLength: Int

    init(channel: UInt32, resource: UInt32, ranges: [UpdateRange], remaining: Int, frameLength: Int) {
        self.channel = channel
        self.resource = resource
        self.ranges = ranges
        self.remaining = remaining
        self.frameLength = frameLength
        skipEmpty()
    }

    var isComplete: Bool { remaining == 0 }

    /// Where the next bytes go (from the target's base) and how many the
    /// current range still takes. Only while not complete.
    var next: (offset: Int, left: Int) {
        let r = ranges[index]
        return (Int(r.offset) + done, Int(r.length) - done)
    }

    /// Records `n` bytes written at `next` (at most `next.left`).
    mutating func advance(_ n: Int) {
        done += n
        remaining -= n
        if done == Int(ranges[index].length) {
            index += 1
            done = 0
            skipEmpty()
        }
    }

    /// Copies `bytes` into the ranges at `base`, as far as they go; returns
    /// how many were taken.
    mutating func scatter(_ bytes: UnsafeRawBufferPointer, into base: UnsafeMutableRawPointer) -> Int {
        var at = 0
        while !isComplete && at < bytes.count {
            let (offset, left) = next
            let n = min(left, bytes.count - at)
            (base + offset).copyMemory(from: bytes.baseAddress! + at, byteCount: n)
            at += n
            advance(n)
        }
        return at
    }

    /// Empty ranges take no bytes: step over them so `next` is always a
    /// range with room while data remains.
    private mutating func skipEmpty() {
        while remaining > 0 && index < ranges.count && ranges[index].length == 0 { index += 1 }
    }
}
