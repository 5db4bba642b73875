import Glibc

/// Minimal line logger to stderr. Lines carry a component tag so a reader can
/// tell which guest, client or link a message is about.
public enum Log {
    /// Print debug lines too (set once at start from --verbose).
    nonisolated(unsafe) public static var verbose = false
    /// Prefix for every line (the process role).
    nonisolated(unsafe) public static var prefix = "porthole"

    public static func info(_ message: @autoclosure () -> String) { write("info", message()) }
    public static func warning(_ message: @autoclosure () -> String) { write("warning", message()) }
    public static func error(_ message: @autoclosure () -> String) { write("error", message()) }
    public static func debug(_ message: @autoclosure () -> String) { if verbose { write("debug", message()) } }
    /// A line of a message trace (`--trace`), printed whatever `verbose` says.
    public static func trace(_ message: String) { write("trace", message) }

    private static func write(_ level: String, _ message: String) {
        var line = Array("\(prefix) \(level): \(message)\n".utf8)
        _ = line.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
