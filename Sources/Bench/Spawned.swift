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

/// Whether `path` is a unix socket.
func isSocket(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
}
