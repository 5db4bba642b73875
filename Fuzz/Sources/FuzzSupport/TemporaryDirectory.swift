import Glibc
import PortholeSystem

/// Directories for what a target puts on disk (the host-session target's
/// compositor socket). Every fuzzing run used to leave its directory in /tmp.
public enum TemporaryDirectory {
    /// What `removedAtExit` made in this process. Only the main thread adds
    /// to it, before fuzzing starts; the exit handler reads it.
    nonisolated(unsafe) private static var made: [String] = []

    /// A fresh directory /tmp/PREFIX-XXXXXX, removed with the files in it
    /// when the process exits. libFuzzer ends every ordinary run with
    /// exit() (after -max_total_time or -runs, after replaying inputs), so
    /// an exit handler sees them all. A crash or a timeout ends in _Exit,
    /// which runs no handler: that run's directory stays.
    public static func removedAtExit(_ prefix: String) -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        precondition(created, "mkdtemp /tmp/\(prefix)-XXXXXX: \(String(cString: strerror(errno)))")
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if made.isEmpty { atexit { TemporaryDirectory.removeAll() } }
        made.append(path)
        return path
    }

    /// The targets put only files and sockets in their directories, no
    /// subdirectories: one level of unlink, then rmdir.
    private static func removeAll() {
        for directory in made {
            for name in DirectoryListing.names(directory) ?? [] { unlink("\(directory)/\(name)") }
            rmdir(directory)
        }
    }
}
