import Glibc
import Synchronization

/// Minimal line logger to stderr. Lines carry a component tag so a reader can
/// tell which guest, client or link a message is about. Text a peer sent
/// reaches a line only through `LogText` (escaped and bounded).
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
        let text = "\(prefix) \(level): \(message)\n"
        captures.withLock { all in
            for key in all.keys { all[key]?.append(text) }
        }
        var line = Array(text.utf8)
        _ = line.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }

    /// What every capture under way has collected, by capture.
    private static let captures = Mutex<[Int: [String]]>([:])
    private static let nextCapture = Atomic<Int>(0)

    /// Runs `body` and returns, with its result, every line written meanwhile
    /// from any thread (tests of what reaches the log; lines of other work
    /// running at the same time are among them). Each ends in its newline.
    public static func capturing<R>(_ body: () throws -> R) rethrows -> (result: R, lines: [String]) {
        let key = nextCapture.add(1, ordering: .relaxed).newValue
        captures.withLock { $0[key] = [] }
        defer { _ = captures.withLock { $0.removeValue(forKey: key) } }
        let result = try body()
        return (result, captures.withLock { $0[key] ?? [] })
    }
}
