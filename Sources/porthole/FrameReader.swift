import ArgumentParser
import PortholeSystem

/// Whole frames of raw pixels from a file or stdin (`-`), for `porthole
/// share publish FILE`.
final class FrameReader {
    private let fd: OwnedFD
    private let frameBytes: Int

    init(path: String, frameBytes: Int) throws {
        self.frameBytes = frameBytes
        do { fd = try FileSystem.openForReading(path) } catch { throw ValidationError("cannot read frames: \(error)") }
    }

    /// Reads the next frame into `base`; false at the end (a partial frame counts as the end).
    func read(into base: UnsafeMutableRawPointer) throws -> Bool {
        var done = 0
        while done < frameBytes {
            let r = try fd.readSome(into: UnsafeMutableRawBufferPointer(start: base + done, count: frameBytes - done))
            guard case .bytes(let n) = r, n > 0 else { return false }
            done += n
        }
        return true
    }
}
