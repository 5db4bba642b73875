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
}
