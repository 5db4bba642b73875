import Foundation

/// A child process started for a test, with stdout and stderr captured to
/// files. Foundation's `Process` starts each child in its own process group
/// (pgid == pid); `terminate()` and `kill()` signal that whole group, so
/// helpers a program starts (weston's desktop-shell, a guest's client) go too.
///
/// No process outlives a test: deinit SIGKILLs the group if it still runs,
/// and every process still running when the test binary exits (normally, or
/// on SIGINT/SIGTERM/a crash) is SIGKILLed. Keep the object alive for as long
/// as the process must run (e.g. `defer { p.terminate() }`): Swift may end an
/// unused object's lifetime before the end of its scope.
///
/// Children start with an empty signal mask (see `runWithDefaultSignalMask`):
/// without that, a child started from a Swift Testing test ignores SIGTERM.
final class ManagedProcess: @unchecked Sendable {
    /// How a process ended.
    enum Exit: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        var description: String {
            switch self {
            case .exited(let code): return "exit code \(code)"
            case .signaled(let signal): return "killed by signal \(signal)"
            }
        }
        var succeeded: Bool { self == .exited(0) }
    }

    let name: String
    let executable: String
    let arguments: [String]
    let stdoutPath: String
    let stderrPath: String
    let pid: Int32
    private let process: Process

    /// Starts `executable` (a path, or a name looked up on PATH).
    ///
    /// - environment: variables set on top of this process's environment
    ///   (or on an empty one when `inheritEnvironment` is false).
    ///   WAYLAND_SOCKET is never inherited.
    /// - logDirectory: where `NAME-N.stdout` / `NAME-N.stderr` are written.
    init(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String] = [:],
        inheritEnvironment: Bool = true,
        logDirectory: String,
        name: String? = nil,
        currentDirectory: String? = nil
    ) throws {
        let resolved = try findExecutable(executable)
        let name = name ?? URL(fileURLWithPath: executable).lastPathComponent
        let logBase = uniqueLogBase(directory: logDirectory, name: name)
        self.name = name
        self.executable = resolved
        self.arguments = arguments
        self.stdoutPath = logBase + ".stdout"
        self.stderrPath = logBase + ".stderr"

        var env = inheritEnvironment ? ProcessInfo.processInfo.environment : [:]
        env["WAYLAND_SOCKET"] = nil
        for (key, value) in environment { env[key] = value }

        let fm = FileManager.default
        guard fm.createFile(atPath: stdoutPath, contents: nil),
              fm.createFile(atPath: stderrPath, contents: nil),
              let out = FileHandle(forWritingAtPath: stdoutPath),
              let err = FileHandle(forWritingAtPath: stderrPath)
        else {
            throw SupportError("cannot create log files \(logBase).{stdout,stderr}")
        }
        defer {
            try? out.close()
            try? err.close()
        }

        let process = Process()
        // Through env(1), which execs the program in the same process with
        // SIGPIPE back at its default: this test process ignores SIGPIPE
        // (`EventLoop`), an ignored signal is inherited across exec, and
        // Foundation's Process sets no default dispositions.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal=PIPE", resolved] + arguments
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        if let currentDirectory {
            process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory)
        }
        do {
            try runWithDefaultSignalMask(process)
        } catch {
            throw SupportError("cannot start \(resolved) \(arguments.joined(separator: " ")): \(error)")
        }
        self.process = process
        self.pid = process.processIdentifier
        liveProcesses.add(self)
    }

    /// The command line, for messages.
    var commandLine: String { ([executable] + arguments).joined(separator: " ") }

    var isRunning: Bool { process.isRunning }

    /// How the process ended, or nil while it runs.
    var exit: Exit? {
        if process.isRunning { return nil }
        switch process.terminationReason {
        case .exit: return .exited(process.terminationStatus)
        case .uncaughtSignal: return .signaled(process.terminationStatus)
        @unknown default: return .exited(process.terminationStatus)
        }
    }

    /// The exit code, or the signal number for a killed process; nil while running.
    var exitStatus: Int32? {
        switch exit {
        case .exited(let code)?: return code
        case .signaled(let signal)?: return signal
        case nil: return nil
        }
    }

    /// Waits up to `timeout` seconds for the process to end; returns how it
    /// ended, or nil if it still runs.
    @discardableResult
    func waitForExit(timeout: Double) -> Exit? {
        waitUntil(timeout: timeout, poll: 0.01) { !process.isRunning }
        return exit
    }

    /// Sends `signal` to the process's whole group (only while the process,
    /// the group's leader, still runs: after that its id may be reused).
    func signalGroup(_ signal: Int32) {
        if process.isRunning { _ = Glibc.kill(-pid, signal) }
    }

    /// Sends `signal` to the process only.
    func signal(_ signal: Int32) {
        if process.isRunning { _ = Glibc.kill(pid, signal) }
    }

    /// SIGTERM to the group, then SIGKILL after `timeout` seconds if the process
    /// has not ended; finally SIGKILL to whatever is left of its group. Returns
    /// how the process ended. Safe to call more than once.
    @discardableResult
    func terminate(timeout: Double = 5) -> Exit {
        if process.isRunning {
            signalGroup(SIGTERM)
            if waitForExit(timeout: timeout) == nil {
                signalGroup(SIGKILL)
                waitForExit(timeout: 10)
            }
            killGroupLeftovers()
        }
        return exit ?? .signaled(SIGKILL)
    }

    /// SIGKILL to the group at once, and waits for the process to be reaped.
    @discardableResult
    func kill() -> Exit {
        if process.isRunning {
            signalGroup(SIGKILL)
            waitForExit(timeout: 10)
            killGroupLeftovers()
        }
        return exit ?? .signaled(SIGKILL)
    }

    /// Only called right after this object signalled a running process: the
    /// group's id cannot have been reused by then (a pgid is only reused once
    /// the group is empty and the leader reaped, and that takes far longer).
    private func killGroupLeftovers() {
        if Glibc.kill(-pid, 0) == 0 { _ = Glibc.kill(-pid, SIGKILL) }
    }

    /// Everything the process wrote to stdout so far.
    var stdout: String { readText(stdoutPath) }
    /// Everything the process wrote to stderr so far.
    var stderr: String { readText(stderrPath) }
    var stdoutData: Data { FileManager.default.contents(atPath: stdoutPath) ?? Data() }

    /// A description for failure messages: command line, state, and the last
    /// `tailLines` lines of stdout and stderr.
    func diagnostics(tailLines: Int = 40) -> String {
        func tail(_ text: String) -> String {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            return lines.suffix(tailLines).joined(separator: "\n")
        }
        let state = exit.map { "ended: \($0)" } ?? "running (pid \(pid))"
        return """
            [\(name)] \(commandLine)
            [\(name)] \(state)
            [\(name)] stdout (\(stdoutPath)):
            \(tail(stdout))
            [\(name)] stderr (\(stderrPath)):
            \(tail(stderr))
            """
    }

    deinit {
        if process.isRunning {
            signalGroup(SIGKILL)
            waitForExit(timeout: 5)
            killGroupLeftovers()
        }
        liveProcesses.remove(pid)
    }
}

// MARK: - Running a command to completion

/// The result of `runCommand`.
struct CommandResult: Sendable {
    let exit: ManagedProcess.Exit
    let stdout: Data
    let stderr: String
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs a command to completion (killing it after `timeout` seconds), with
/// output captured through files in `logDirectory`. Throws if it cannot start,
/// times out, or (when `check` is true) does not exit with status 0.
@discardableResult
func runCommand(
    _ executable: String,
    _ arguments: [String] = [],
    environment: [String: String] = [:],
    currentDirectory: String? = nil,
    logDirectory: String,
    timeout: Double = 30,
    check: Bool = true
) throws -> CommandResult {
    let process = try ManagedProcess(
        executable, arguments, environment: environment,
        logDirectory: logDirectory, currentDirectory: currentDirectory)
    guard let exit = process.waitForExit(timeout: timeout) else {
        process.kill()
        throw SupportError("timed out after \(timeout) s: \(process.commandLine)\n\(process.diagnostics())")
    }
    let result = CommandResult(exit: exit, stdout: process.stdoutData, stderr: process.stderr)
    try? FileManager.default.removeItem(atPath: process.stdoutPath)
    try? FileManager.default.removeItem(atPath: process.stderrPath)
    if check && !exit.succeeded {
        throw SupportError("\(process.commandLine) failed (\(exit)); stderr:\n\(result.stderr)")
    }
    return result
}

// MARK: - Helpers

/// Starts `process` with an empty signal mask in the child.
///
/// posix_spawn, which Foundation's Process uses, gives the child the calling
/// thread's signal mask, and Swift Testing runs tests on Dispatch worker
/// threads, which block nearly every signal: a child started from a test
/// would then ignore SIGTERM (seen here: SigBlk fffffffe3bfbea27 in
/// /proc/PID/status). So the spawning thread's mask is cleared around run()
/// and put back right after.
private func runWithDefaultSignalMask(_ process: Process) throws {
    var empty = sigset_t()
    var saved = sigset_t()
    sigemptyset(&empty)
    pthread_sigmask(SIG_SETMASK, &empty, &saved)
    defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
    try process.run()
}

/// Resolves a program name on PATH (plus the usual system directories);
/// a name with a slash is taken as a path. Throws a message pointing at
/// scripts/deps when it is missing.
func findExecutable(_ name: String) throws -> String {
    let fm = FileManager.default
    if name.contains("/") {
        guard fm.isExecutableFile(atPath: name) else {
            throw SupportError("\(name) is not an executable file")
        }
        return name
    }
    let pathDirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    for dir in pathDirs + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] where !dir.isEmpty {
        let candidate = "\(dir)/\(name)"
        if fm.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw SupportError("\(name) not found on PATH; run scripts/deps to install the test dependencies")
}

private func readText(_ path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path) else { return "" }
    return String(decoding: data, as: UTF8.self)
}

private let logCounter = LockedCounter()

private func uniqueLogBase(directory: String, name: String) -> String {
    let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    return "\(directory)/\(safe)-\(logCounter.next())"
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}

/// ManagedProcess objects still alive. Their process groups are SIGKILLed
/// when the test binary exits normally (atexit) and when it is killed by a
/// catchable signal (SIGINT from a timeout or ^C, SIGTERM, a crash), so a
/// cancelled or crashed test run does not leave a weston running forever.
/// (Nothing can be done for SIGKILL.)
final class LiveProcessRegistry: @unchecked Sendable {
    private struct WeakRef { weak var process: ManagedProcess? }
    private let lock = NSLock()
    private var entries: [Int32: WeakRef] = [:]
    private var installed = false

    func add(_ process: ManagedProcess) {
        let install = lock.withLock { () -> Bool in
            entries[process.pid] = WeakRef(process: process)
            signalSafePIDs.insert(process.pid)
            defer { installed = true }
            return !installed
        }
        if install {
            atexit { liveProcesses.killAll() }
            installSignalCleanup()
        }
    }

    func remove(_ pid: Int32) {
        lock.withLock {
            _ = entries.removeValue(forKey: pid)
            signalSafePIDs.remove(pid)
        }
    }

    func killAll() {
        let all = lock.withLock { entries.values.compactMap(\.process) }
        for process in all where process.isRunning {
            process.signalGroup(SIGKILL)
        }
    }
}

let liveProcesses = LiveProcessRegistry()

/// The pids of live ManagedProcess groups in a fixed table that a signal
/// handler can read without locks or allocation. Writers hold the registry's
/// lock; the handler reads aligned Int32s.
private final class SignalSafePIDTable: @unchecked Sendable {
    static let capacity = 4096
    let slots: UnsafeMutablePointer<Int32>

    init() {
        slots = .allocate(capacity: Self.capacity)
        slots.initialize(repeating: 0, count: Self.capacity)
    }

    func insert(_ pid: Int32) {
        for i in 0..<Self.capacity where slots[i] == 0 {
            slots[i] = pid
            return
        }
    }

    func remove(_ pid: Int32) {
        for i in 0..<Self.capacity where slots[i] == pid {
            slots[i] = 0
        }
    }

    /// Async-signal-safe: only kill(2).
    func killAllGroups() {
        for i in 0..<Self.capacity {
            let pid = slots[i]
            if pid > 0 { _ = Glibc.kill(-pid, SIGKILL) }
        }
    }
}

private let signalSafePIDs = SignalSafePIDTable()

/// The signal actions in force before ours, restored before re-raising.
private final class SavedSignalActions: @unchecked Sendable {
    let actions: UnsafeMutablePointer<sigaction> = {
        let p = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
        p.initialize(repeating: sigaction(), count: 65)
        return p
    }()
}

private let savedSignalActions = SavedSignalActions()

private let cleanupSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE]

/// On a fatal signal: SIGKILL every live child group, put back the previous
/// action (the default, or e.g. Swift's backtracer) and raise the signal again,
/// so the test binary still dies (or reports its crash) as it would have.
private func installSignalCleanup() {
    for sig in cleanupSignals {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { sig in
            signalSafePIDs.killAllGroups()
            sigaction(sig, savedSignalActions.actions + Int(sig), nil)
            raise(sig)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        var previous = sigaction()
        guard sigaction(sig, nil, &previous) == 0 else { continue }
        // Leave alone a signal someone chose to ignore.
        if let handler = previous.__sigaction_handler.sa_handler,
           unsafeBitCast(handler, to: Int.self) == 1 /* SIG_IGN */ { continue }
        savedSignalActions.actions[Int(sig)] = previous
        sigaction(sig, &action, nil)
    }
}
