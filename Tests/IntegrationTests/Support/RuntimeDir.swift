import Foundation

/// A fresh private (0700) directory under /tmp, used as XDG_RUNTIME_DIR for
/// compositors, proxies and clients, and for their logs. `cleanup()` (also run
/// by deinit) removes it with everything inside.
///
/// Paths stay short on purpose: a Unix socket path must fit in 108 bytes.
final class RuntimeDir: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var removed = false
    private var counter = 0

    init(prefix: String = "ph") throws {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            mkdtemp(buffer.baseAddress!) != nil
        }
        guard made else {
            throw SupportError("mkdtemp /tmp/\(prefix).XXXXXX failed: \(String(cString: strerror(errno)))")
        }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // mkdtemp already uses 0700; make sure regardless of umask quirks.
        guard chmod(path, 0o700) == 0 else {
            throw SupportError("chmod 0700 \(path) failed: \(String(cString: strerror(errno)))")
        }
        try? "\(getpid())\n".write(toFile: "\(path)/\(RuntimeDir.ownerMarker)", atomically: false, encoding: .utf8)
        RuntimeDir.sweepStaleOnce
    }

    /// Names the test process that made a directory, so that a later run can
    /// remove directories left behind by a test binary that was killed.
    static let ownerMarker = ".porthole-test-owner"

    /// Once per test process: removes /tmp directories carrying the owner
    /// marker whose owner process no longer exists.
    private static let sweepStaleOnce: Void = {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: "/tmp") else { return }
        for entry in entries {
            let dir = "/tmp/\(entry)"
            guard let text = try? String(contentsOfFile: "\(dir)/\(ownerMarker)", encoding: .utf8),
                  let owner = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                  owner != getpid()
            else { continue }
            if kill(owner, 0) != 0 && errno == ESRCH {
                try? fm.removeItem(atPath: dir)
            }
        }
    }()

    /// The path of `name` inside this directory.
    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// A new, empty subdirectory with a unique name starting with `prefix`.
    func makeSubdirectory(_ prefix: String) throws -> String {
        let name = lock.withLock { () -> String in
            counter += 1
            return "\(prefix)-\(counter)"
        }
        let dir = file(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A unique file name inside this directory (not created), e.g. for logs.
    func uniqueFile(_ prefix: String, suffix: String = "") -> String {
        let n = lock.withLock { () -> Int in
            counter += 1
            return counter
        }
        return file("\(prefix)-\(n)\(suffix)")
    }

    /// Environment for a Wayland client of `display` (a socket name in this
    /// directory, or an absolute socket path).
    func clientEnvironment(display: String) -> [String: String] {
        ["XDG_RUNTIME_DIR": path, "WAYLAND_DISPLAY": display]
    }

    /// Removes the directory and its contents. Idempotent.
    func cleanup() {
        let already = lock.withLock { () -> Bool in
            defer { removed = true }
            return removed
        }
        if already { return }
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit { cleanup() }
}
