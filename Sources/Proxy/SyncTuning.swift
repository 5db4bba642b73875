import Link

/// How the syncs trade comparing for copying.
enum SyncTuning {
    /// Commits copied without comparing after a commit whose damage had
    /// changed almost everywhere (comparing then only costs a second read).
    static let blindCommitRun = 15
    /// The same for a region pool. Its comparing reads both copies (66 MB
    /// for a 4K frame) where copying reads one and writes one: it pays only
    /// when much of the damage did not change, so it looks less often. (At
    /// 3840x2160 full damage the compared commit every 16th frame was 5% of
    /// the guest proxy's time, the rest being the copy itself.)
    static let regionBlindCommitRun = 63
    /// Compared bytes from which a commit can count as "changed almost everywhere".
    static let mostlyChangedFloor = 1 << 16
    /// A compared commit counts as "changed almost everywhere" from this share (3/4) and `mostlyChangedFloor` on.
    static func mostlyChanged(copied: Int, compared: Int) -> Bool { compared >= mostlyChangedFloor && copied * 4 >= compared * 3 }
    /// A region commit smaller than this is copied without comparing: a
    /// few KiB (a typing commit's cells) read twice to spare writes that
    /// cost no more than the second read. The same bound as the floor: a
    /// commit below it never starts a blind run, so it needs a rule of its own.
    static let smallRegionCommit = mostlyChangedFloor
    /// Blind commits skip the mirror only when their runs average at least this.
    static let referenceRun = 16384
    /// Changed bytes collected before they are handed to the link, so that
    /// the host receives while the guest compares.
    static let sendChunk = 1 << 20
    /// A commit's sync larger than this runs in slices of this size, one
    /// per loop turn, so another channel's small commit waits for one
    /// slice instead of the whole sync (a 4K frame is 33 MB).
    static let sliceBytes = 2 << 20
    /// A sliced sync going over the link makes its next slice only once
    /// the link holds less than this unsent.
    static let linkQueueLimit = 1 << 20
    /// The same for a channel on the bulk lane, whose thread writes with
    /// no other window's frame behind it: deep enough that the thread
    /// never waits for the loop's next slice (with 1 MiB, a 4K window went
    /// 10% slower than with the loop writing; docs/benchmarks.md).
    static let laneQueueLimit = 8 << 20
}
