import Glibc

/// The few path operations the proxies make, each syscall once.
public enum FileSystem {
    /// Sets `path`'s permission bits (a Wayland socket only its user may open).
    public static func setMode(_ path: String, _ mode: mode_t) throws(SystemError) {
        try syscall("chmod \(path)") { chmod(path, mode) }
    }

    /// Opens `path` for reading; "-" is a duplicate of standard input.
    public static func openForReading(_ path: String) throws(SystemError) -> OwnedFD {
        if path == "-" { return OwnedFD(try syscall("dup stdin") { fcntl(0, F_DUPFD_CLOEXEC, 0) }) }
        return OwnedFD(try syscall("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) })
    }

    /// Writes all of `bytes` to a new file at `path` (replaced if present).
    public static func write(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let fd = OwnedFD(try syscall("open \(path)") { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) })
        try writeAll(bytes, to: fd, name: path)
    }

    private static func writeAll(_ bytes: [UInt8], to fd: OwnedFD, name: String) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let from = done
            let outcome = try bytes.withUnsafeBytes { b in
                Result { () throws(SystemError) -> WriteOutcome in try fd.writeSome(UnsafeRawBufferPointer(rebasing: b[from...])) }
            }.get()
            guard case .wrote(let n) = outcome, n > 0 else { throw SystemError("write \(name)", code: EIO) }
            done += n
        }
    }

    /// Removes `path` if it exists (a socket left by this process).
    public static func remove(_ path: String) {
        _ = unlink(path)
    }

    /// Replaces `path` with `text` so that a reader sees the old or the new
    /// contents, never a mix: write a temporary file beside it, then rename.
    public static func writeAtomically(_ text: String, to path: String) throws(SystemError) {
        let tmp = path + ".tmp"
        let fd = OwnedFD(try syscall("open \(tmp)") { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) })
        try writeAll(Array(text.utf8), to: fd, name: tmp)
        fd.close()
        try syscall("rename \(tmp) to \(path)") { rename(tmp, path) }
    }
}
