import Glibc
import Link

/// Compares client memory against a copy of what the host sees (a private
/// mirror, or the client's buffer in the shared region) and brings the copy
/// up to date, one changed run at a time.
enum ByteDiff {
    /// Granularity of a changed run.
    static let block = 64
    /// Coarse step compared first; equal steps are skipped whole.
    static let step = 4096

    /// Diffs bytes [start, end) of `client` against the same offsets of
    /// `copy`; each changed run is copied into `copy`, then reported to
    /// `onRun(offset, length)`. Returns the bytes copied.
    static func diff(client c: UnsafeRawPointer, copy m: UnsafeMutableRawPointer, start: Int, end: Int,
                     onRun: (Int, Int) -> Void = { _, _ in }) -> Int {
        guard start < end else { return 0 }
        var copied = 0
        var runStart = -1
        var i = start
        func closeRun(_ at: Int) {
            guard runStart >= 0 else { return }
            let length = at - runStart
            (m + runStart).copyMemory(from: c + runStart, byteCount: length)
            onRun(runStart, length)
            copied += length
            runStart = -1
        }
        while i < end {
            let stepEnd = min(end, i + step)
            if memcmp(c + i, m + i, stepEnd - i) == 0 {
                closeRun(i)
                i = stepEnd
                continue
            }
            var j = i
            while j < stepEnd {
                let n = min(block, stepEnd - j)
                if memcmp(c + j, m + j, n) != 0 {
                    if runStart < 0 { runStart = j }
                } else {
                    closeRun(j)
                }
                j &+= n
            }
            i = stepEnd
        }
        closeRun(end)
        return copied
    }

    /// Diffs like `diff(client:copy:start:end:onRun:)`, appending each changed
    /// run to `runs` (merged with the last one when adjacent).
    static func diff(client c: UnsafeRawPointer, copy m: UnsafeMutableRawPointer, start: Int, end: Int,
                     runs: inout [UpdateRun]) -> Int {
        diff(client: c, copy: m, start: start, end: end) { offset, length in addRun(&runs, offset: offset, length: length) }
    }

    /// Appends a run, merging it with the last one when they touch.
    static func addRun(_ runs: inout [UpdateRun], offset: Int, length: Int) {
        guard length > 0 else { return }
        if let last = runs.last, last.offset + last.length == offset, last.length + length <= Int(UInt32.max) {
            runs[runs.count - 1].length += length
        } else {
            runs.append(UpdateRun(offset: offset, length: length))
        }
    }
}
