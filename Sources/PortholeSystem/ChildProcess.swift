import Glibc

/// A child process started with posix_spawn, with a clean signal mask (the
/// parent blocks signals for its signalfd).
public final class ChildProcess {
    public let pid: pid_t

    /// Starts `arguments[0]` (looked up in PATH) with this process's
    /// environment, minus `removing`, plus `extra`. With `logPath`, stdin is
    /// /dev/null and stdout and stderr are appended to that file; with
    /// `newProcessGroup`, the child leads a process group of its own (so a
    /// signal to `-pid` reaches whatever it starts too).
    public init(arguments: [String], environment extra: [String: String], removing: Set<String> = [],
                logPath: String? = nil, newProcessGroup: Bool = false) throws(SystemError) {
        precondition(!arguments.isEmpty)
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        for name in removing { env[name] = nil }
        for (k, v) in extra { env[k] = v }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let logPath {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGCHLD, SIGHUP] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attr, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attr, Int16(flags))
        var child: pid_t = 0
        let rc = posix_spawnp(&child, arguments[0], &actions, &attr, argv, envp)
        guard rc == 0 else { throw SystemError("spawn \(arguments[0])", code: rc) }
        pid = child
    }

    /// Sends `signal` to the child.
    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Reaps the child if it has exited: its exit code, or 128 + signal.
    public func reap() -> Int32? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return nil }
        let low = status & 0x7f
        if low == 0 { return (status >> 8) & 0xff }
        return 128 + low
    }
}
