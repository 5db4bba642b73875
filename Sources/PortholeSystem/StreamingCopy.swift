import CPorthole

/// Copies of frames larger than the cache, with streaming stores.
public enum StreamingCopy {
    /// Copies at or above this many bytes stream; smaller ones stay cached,
    /// where whoever reads them next (the compositor) finds them.
    public static let threshold = 256 * 1024

    /// Copies `count` bytes from `source` to `target`: streaming stores for a
    /// run of at least `threshold` bytes, memcpy below.
    public static func copy(to target: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
        if count >= threshold {
            porthole_copy_streaming(target, source, count)
        } else {
            target.copyMemory(from: source, byteCount: count)
        }
    }

    /// As `copy`, a `ThreadScheduling.bulkPiece` at a time, calling
    /// `between` between pieces: a worker thread passes
    /// `ThreadScheduling.offerCPU`, so that its copy does not hold back a
    /// thread that woke on its CPU.
    public static func copyInPieces(to target: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int,
                                    between: () -> Void) {
        var done = 0
        while done < count {
            if done > 0 { between() }
            let n = min(ThreadScheduling.bulkPiece, count - done)
            copy(to: target + done, from: source + done, count: n)
            done += n
        }
    }
}
