import Foundation
import Glibc
import PortholeSystem

/// A helper process the bench started (a proxy, waypipe, weston), in its own
/// process group, with stdout and stderr going to a log file. Stopping it
/// signals only that group.
public final class Spawned: @unchecked Sendable {
    public let name: String
    public let pid: pid_t
    public let logPath: String
    private var status: Int32?

    /// Starts `arguments[0]` (looked up on PATH) with `environment` on top of
    /// this process's (without WAYLAND_SOCKET), logging to `logPath`.
    public init(name: String, arguments: [String], environment: [String: String], logPath: String) throws {
        self.name = name
        self.logPath = logPath
        do {
            pid = try ChildProcess(arguments: arguments, environment: environment, removing: ["WAYLAND_SOCKET"],
                                   logPath: logPath, newProcessGroup: true).pid
            SpawnedGroups.add(pid)
        } catch {
            throw BenchError("cannot start \(arguments[0]): \(error)")
        }
    }

    /// Whether it still runs (reaps it if it ended).
    public var isRunning: Bool {
        if status != nil { return false }
        var s: Int32 = 0
        if waitpid(pid, &s, WNOHANG) == pid { ended(s); return false }
        return true
    }

    private func ended(_ s: Int32) {
        status = s
        SpawnedGroups.remove(pid)
    }

    /// The last lines of its log, for error messages.
    public func logTail(lines: Int = 15) -> String {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// SIGTERM to its process group, SIGKILL after `timeout` seconds; reaps it.
    public func stop(timeout: Double = 5) {
        guard isRunning else { kill(-pid, SIGKILL); return }
        kill(-pid, SIGTERM)
        let end = Date(timeIntervalSinceNow: timeout)
        while isRunning && Date() < end { usleep(10_000) }
        kill(-pid, SIGKILL)
        if status == nil {
            var s: Int32 = 0
            if waitpid(pid, &s, 0) == pid { ended(s) }
        }
    }

    deinit {
        if status == nil { kill(-pid, SIGKILL); var s: Int32 = 0; _ = waitpid(pid, &s, 0) }
        SpawnedGroups.remove(pid)
    }
}

/// Something the benchmark could not do, said plainly.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Waits until `condition` holds (polling every 10 ms); false after `timeout` seconds.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let end = Date(timeIntervalSinceNow: timeout)
    while !condition() {
        if Date() >= end { return false }
        usleep(10_000)
    }
    return true
}

/// Whether `path` is a unix socket. Enough for porthole's own, which are
/// bound under a temporary name and renamed into place once listening.
func isSocket(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
}

/// Whether `path` is a unix socket that listens. Another program binds and
/// then listens, and a client that connects in between is refused (the
/// bench's clients were, once, by waypipe's server on a loaded machine).
/// /proc/net/unix flags a listening socket `__SO_ACCEPTCON` (0x10000) and
/// names it by the path it was bound to: the full path, or only the file's
/// name for a program that binds relative to the directory (waypipe does).
func isListening(_ path: String) -> Bool {
    guard isSocket(path), let table = try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8) else { return false }
    let name = path.split(separator: "/").last.map(String.init) ?? path
    for line in table.split(separator: "\n") {
        // Num RefCount Protocol Flags Type St Inode Path
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 8, fields[7] == path || fields[7] == name, let flags = UInt32(fields[3], radix: 16) else { continue }
        if flags & 0x10000 != 0 { return true }
    }
    return false
}
