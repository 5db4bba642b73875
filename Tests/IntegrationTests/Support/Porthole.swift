import Foundation

/// The root of this Swift package (derived from this file's path).
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }  // Support, IntegrationTests, Tests, root
    return url.path
}()

/// Where the porthole binary is: $PORTHOLE_BIN (scripts/test exports
/// `$(swift build --show-bin-path)/porthole`), else `.build/debug/porthole`
/// in the package root. Throws, saying how to build it, if it is missing.
func portholeBinary() throws -> String {
    let env = ProcessInfo.processInfo.environment["PORTHOLE_BIN"].flatMap { $0.isEmpty ? nil : $0 }
    let path = env ?? "\(packageRoot)/.build/debug/porthole"
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw SupportError(env != nil
            ? "PORTHOLE_BIN=\(path) is not an executable file"
            : "\(path) does not exist: run `swift build` first (or set PORTHOLE_BIN); scripts/test does both")
    }
    return path
}

/// A link address as the CLI takes it: unix:PATH or tcp:HOST:PORT.
enum LinkAddress: Hashable, Sendable, CustomStringConvertible {
    case unix(String)
    case tcp(host: String, port: Int)

    var description: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let host, let port): return "tcp:\(host):\(port)"
        }
    }

    /// A unix socket named `name` in `runtime`.
    static func unix(in runtime: RuntimeDir, _ name: String = "link.sock") -> LinkAddress {
        .unix(runtime.file(name))
    }

    /// 127.0.0.1 on a port that was free a moment ago.
    static func freeLoopbackTCP() throws -> LinkAddress {
        .tcp(host: "127.0.0.1", port: try freeTCPPort())
    }

    /// Whether something listens on this address (a socket file exists, or a
    /// TCP socket is in LISTEN state on the port). Never connects, so a
    /// listener is not handed a spurious peer.
    var isListening: Bool {
        switch self {
        case .unix(let path): return isSocket(path)
        case .tcp(_, let port): return isTCPListening(port: port)
        }
    }
}

/// Which side of the link a porthole process takes.
enum LinkMode: Hashable, Sendable {
    case listen(LinkAddress)
    case connect(LinkAddress)

    var address: LinkAddress {
        switch self {
        case .listen(let a), .connect(let a): return a
        }
    }
    var arguments: [String] {
        switch self {
        case .listen(let a): return ["--listen", a.description]
        case .connect(let a): return ["--connect", a.description]
        }
    }
}

/// A running `porthole host` or `porthole guest`, with its stats file.
final class PortholeProcess: @unchecked Sendable {
    enum Role: String, Sendable { case host, guest }

    let role: Role
    let runtime: RuntimeDir
    let link: LinkMode
    let process: ManagedProcess
    let statsPath: String
    /// The guest's Wayland socket name in `runtime` (nil for a host).
    let socketName: String?
    /// The arguments after the role.
    let arguments: [String]

    fileprivate init(role: Role, runtime: RuntimeDir, link: LinkMode, arguments: [String],
                     statsPath: String, socketName: String?, environment: [String: String]) throws {
        self.role = role
        self.runtime = runtime
        self.link = link
        self.statsPath = statsPath
        self.socketName = socketName
        self.arguments = arguments
        var env = ["XDG_RUNTIME_DIR": runtime.path]
        for (key, value) in environment { env[key] = value }
        process = try ManagedProcess(
            try portholeBinary(), [role.rawValue] + arguments,
            environment: env, logDirectory: runtime.path, name: "porthole-\(role.rawValue)")
    }

    var pid: Int32 { process.pid }
    var isRunning: Bool { process.isRunning }

    /// The guest's Wayland socket path (nil for a host).
    var socketPath: String? { socketName.map { runtime.file($0) } }

    /// Waits for the guest's Wayland socket to appear. Throws if the process
    /// ends first or `timeout` passes.
    func waitForSocket(timeout: Double = 10) throws {
        guard let path = socketPath else { throw SupportError("a porthole host has no Wayland socket") }
        try waitForState("\(path) to appear", timeout: timeout) { isSocket(path) }
    }

    /// Waits until this process listens on its link address (for `.listen`).
    func waitForListening(timeout: Double = 10) throws {
        try waitForState("porthole \(role.rawValue) to listen on \(link.address)", timeout: timeout) {
            link.address.isListening
        }
    }

    private func waitForState(_ what: String, timeout: Double, _ condition: () -> Bool) throws {
        let process = self.process
        let ok = waitUntil(timeout: timeout, poll: 0.02) { condition() || !process.isRunning }
        guard ok, process.isRunning || condition() else {
            throw SupportError("porthole \(role.rawValue) ended before \(what)\n\(process.diagnostics())")
        }
        guard condition() else {
            throw SupportError("timed out after \(timeout) s waiting for \(what)\n\(process.diagnostics())")
        }
    }

    /// The stats file as numbers. Retries for up to `timeout` seconds while the
    /// file is missing, empty or not (yet) valid JSON, as when it is read in the
    /// middle of a rewrite. Non-numeric values are left out.
    func stats(timeout: Double = 3) throws -> [String: Int] {
        try readStatsFile(statsPath, timeout: timeout)
    }

    /// Polls the stats until `condition` holds for them, and returns them.
    @discardableResult
    func waitForStats(
        _ what: String = "stats to satisfy a condition",
        timeout: Double = 10,
        _ condition: ([String: Int]) -> Bool
    ) throws -> [String: Int] {
        var last: [String: Int]?
        do {
            return try waitFor(what, timeout: timeout, poll: 0.1) { () -> [String: Int]? in
                let s = try readStatsFile(statsPath, timeout: 0)
                last = s
                return condition(s) ? s : nil
            }
        } catch {
            throw SupportError("\(error); last stats: \(last.map { "\($0.sorted { $0.key < $1.key })" } ?? "none")")
        }
    }

    /// Waits until this process logs a line containing `text`, and returns the line.
    @discardableResult
    func waitForLog(containing text: String, timeout: Double = 10) throws -> String {
        try waitFor("porthole \(role.rawValue) to log '\(text)'", timeout: timeout, poll: 0.05) { () -> String? in
            process.stderr.split(separator: "\n").first { $0.contains(text) }.map(String.init)
        }
    }

    /// Whether this process takes part in a bulk lane: a host unless told
    /// `--no-bulk-lane`; a guest unless told so, and only over a unix link
    /// (it dials lanes over unix and vsock; the tests' other link is TCP).
    var usesBulkLane: Bool {
        guard !arguments.contains("--no-bulk-lane") else { return false }
        switch (role, link) {
        case (.host, _): return true
        case (.guest, .connect(.unix)): return true
        case (.guest, _): return false
        }
    }

    /// Starts a Wayland client of this guest's socket.
    func startClient(_ executable: String, _ arguments: [String] = [],
                     environment: [String: String] = [:]) throws -> ManagedProcess {
        guard let socketName else { throw SupportError("a porthole host has no Wayland socket for clients") }
        var env = runtime.clientEnvironment(display: socketName)
        for (key, value) in environment { env[key] = value }
        return try ManagedProcess(executable, arguments, environment: env, logDirectory: runtime.path)
    }

    /// Number of open file descriptors of the porthole process.
    func openFDCount() throws -> Int { try IntegrationTests.openFDCount(pid: pid) }

    /// The names of the process's threads now (/proc/PID/task/*/comm), sorted.
    func threadNames() throws -> [String] {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return tasks.compactMap { try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .newlines) }.sorted()
    }

    /// Waits until the process has at most `resting` descriptors open and
    /// returns the count. On timeout the error lists every descriptor still
    /// open and what it points at, so a leak names itself (a pool's memfd, a
    /// client's socket) and a merely slow close shows as the same table
    /// without leftovers.
    @discardableResult
    func waitForFDs(backTo resting: Int, timeout: Double = 10) throws -> Int {
        do {
            return try waitFor("porthole \(role.rawValue)'s fds back to \(resting)", timeout: timeout, poll: 0.1) { () -> Int? in
                let n = try openFDCount()
                return n <= resting ? n : nil
            }
        } catch let error as SupportError {
            let open = ((try? IntegrationTests.openFDs(pid: pid)) ?? [:]).sorted { $0.key < $1.key }
            let table = open.map { "  \($0.key) -> \($0.value)" }.joined(separator: "\n")
            throw SupportError("\(error.message); \(open.count) open:\n\(table)\n\(diagnostics())")
        }
    }

    /// Returns once `guest`'s bulk lane is attached on both sides, when both
    /// use one. The guest dials it after its link is up, so its socket and
    /// the lane writer's descriptors come after the first stats file: a
    /// descriptor count taken before then is not what the proxies hold at rest.
    static func waitForBulkLane(host: PortholeProcess, guest: PortholeProcess, timeout: Double = 10) throws {
        guard host.usesBulkLane && guest.usesBulkLane else { return }
        try guest.waitForStats("the guest's bulk lane", timeout: timeout) { $0["bulk_lanes", default: 0] >= 1 }
        try host.waitForStats("the host's end of the guest's bulk lane", timeout: timeout) { $0["bulk_lanes", default: 0] >= 1 }
    }

    /// SIGTERM (SIGKILL after `timeout`); returns how it ended.
    @discardableResult
    func terminate(timeout: Double = 5) -> ManagedProcess.Exit { process.terminate(timeout: timeout) }

    @discardableResult
    func waitForExit(timeout: Double) -> ManagedProcess.Exit? { process.waitForExit(timeout: timeout) }

    func diagnostics(tailLines: Int = 40) -> String { process.diagnostics(tailLines: tailLines) }
}

/// Starting porthole processes.
enum Porthole {
    /// Starts `porthole host LINK --display DISPLAY --stats RUNTIME/host-stats-N.json`.
    /// - display: a socket name in `runtime` or an absolute path.
    /// Unless `extraArguments` name one, the buffer socket is a file of its
    /// own: host and guest share the runtime dir here, and both would take
    /// `porthole-buffers` by default (the second with a warning).
    static func startHost(
        runtime: RuntimeDir,
        link: LinkMode,
        display: String,
        verbose: Bool = false,
        extraArguments: [String] = [],
        environment: [String: String] = [:]
    ) throws -> PortholeProcess {
        let stats = runtime.uniqueFile("host-stats", suffix: ".json")
        var args = link.arguments + ["--display", display, "--stats", stats]
        if !extraArguments.contains("--buffers-socket") { args += ["--buffers-socket", runtime.uniqueFile("host-buffers", suffix: ".sock")] }
        if !extraArguments.contains("--buffers-producer-socket") {
            args += ["--buffers-producer-socket", runtime.uniqueFile("host-buffer-producers", suffix: ".sock")]
        }
        if verbose { args.append("--verbose") }
        args += extraArguments
        return try PortholeProcess(role: .host, runtime: runtime, link: link, arguments: args,
                                   statsPath: stats, socketName: nil, environment: environment)
    }

    /// Starts `porthole guest LINK --socket NAME --stats RUNTIME/guest-stats-N.json [-- COMMAND]`
    /// (with a buffer socket of its own, as `startHost`).
    static func startGuest(
        runtime: RuntimeDir,
        link: LinkMode,
        socketName: String = "wayland-porthole",
        verbose: Bool = false,
        extraArguments: [String] = [],
        command: [String] = [],
        environment: [String: String] = [:]
    ) throws -> PortholeProcess {
        let stats = runtime.uniqueFile("guest-stats", suffix: ".json")
        var args = link.arguments + ["--socket", socketName, "--stats", stats]
        if !extraArguments.contains("--buffers-socket") { args += ["--buffers-socket", runtime.uniqueFile("guest-buffers", suffix: ".sock")] }
        if !extraArguments.contains("--buffers-consumer-socket") {
            args += ["--buffers-consumer-socket", runtime.uniqueFile("guest-buffer-consumers", suffix: ".sock")]
        }
        if verbose { args.append("--verbose") }
        args += extraArguments
        if !command.isEmpty { args += ["--"] + command }
        return try PortholeProcess(role: .guest, runtime: runtime, link: link, arguments: args,
                                   statsPath: stats, socketName: socketName, environment: environment)
    }

    /// A host whose producer socket's `application` buffers go to the guest
    /// (`--buffers-to-guest APP@guest`), and that guest with a consumer
    /// socket, both up: host programs publish on `producers`, guest
    /// programs receive on `consumers`. The caller terminates both.
    static func startHostToGuestBuffers(runtime: RuntimeDir, application: String)
        throws -> (host: PortholeProcess, guest: PortholeProcess, producers: String, consumers: String) {
        let link = LinkAddress.unix(in: runtime)
        let producers = runtime.file("host-producers.sock")
        let host = try startHost(runtime: runtime, link: .listen(link), display: "wayland-none",
                                 extraArguments: ["--buffers-producer-socket", producers, "--buffers-to-guest", "\(application)@guest"])
        let consumers = runtime.file("guest-consumers.sock")
        let guest: PortholeProcess
        do {
            try host.waitForListening()
            guest = try startGuest(runtime: runtime, link: .connect(link), extraArguments: ["--buffers-consumer-socket", consumers])
        } catch {
            host.terminate()
            throw error
        }
        guard waitUntil({ isSocket(consumers) && isSocket(producers) }) else {
            let why = "no buffer sockets\n\(guest.diagnostics())\n\(host.diagnostics())"
            guest.terminate()
            host.terminate()
            throw SupportError(why)
        }
        return (host, guest, producers, consumers)
    }
}

/// A whole chain: headless weston <- porthole host <- link -> porthole guest,
/// all in one runtime dir. `stop()` ends them in reverse order. Keep it alive
/// for the whole test (`defer { chain.stop() }`).
final class ProxiedWeston: @unchecked Sendable {
    enum Transport: Sendable { case unix, tcp }
    /// Which porthole listens on the link; the other connects.
    enum Listener: Sendable { case host, guest }

    let runtime: RuntimeDir
    let weston: Weston
    let host: PortholeProcess
    let guest: PortholeProcess

    init(
        transport: Transport = .unix,
        listener: Listener = .host,
        guestSocket: String = "wayland-porthole",
        verbose: Bool = false,
        hostArguments: [String] = [],
        guestArguments: [String] = [],
        timeout: Double = 15
    ) throws {
        let runtime = try RuntimeDir()
        self.runtime = runtime
        let weston = try Weston(runtime: runtime)
        self.weston = weston
        let address: LinkAddress = transport == .unix ? .unix(in: runtime) : try .freeLoopbackTCP()
        func startHost(_ mode: LinkMode) throws -> PortholeProcess {
            try Porthole.startHost(runtime: runtime, link: mode, display: weston.socketName,
                                   verbose: verbose, extraArguments: hostArguments)
        }
        func startGuest(_ mode: LinkMode) throws -> PortholeProcess {
            try Porthole.startGuest(runtime: runtime, link: mode, socketName: guestSocket,
                                    verbose: verbose, extraArguments: guestArguments)
        }
        switch listener {
        case .host:
            host = try startHost(.listen(address))
            try host.waitForListening(timeout: timeout)
            guest = try startGuest(.connect(address))
        case .guest:
            guest = try startGuest(.listen(address))
            try guest.waitForListening(timeout: timeout)
            host = try startHost(.connect(address))
        }
        try guest.waitForSocket(timeout: timeout)
    }

    /// Starts a Wayland client of the guest's socket.
    func startClient(_ executable: String, _ arguments: [String] = [],
                     environment: [String: String] = [:]) throws -> ManagedProcess {
        try guest.startClient(executable, arguments, environment: environment)
    }

    /// Logs of all three, for failure messages.
    func diagnostics(tailLines: Int = 30) -> String {
        [guest.diagnostics(tailLines: tailLines), host.diagnostics(tailLines: tailLines),
         weston.process.diagnostics(tailLines: tailLines)].joined(separator: "\n")
    }

    func stop() {
        guest.terminate()
        host.terminate()
        weston.stop()
    }
}

/// Reads a flat JSON object of numbers, retrying for up to `timeout` seconds
/// while the file is missing, empty or not valid JSON (a partial write).
func readStatsFile(_ path: String, timeout: Double = 3) throws -> [String: Int] {
    try waitFor("a complete stats file at \(path)", timeout: timeout, poll: 0.02) { () -> [String: Int]? in
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
            throw SupportError("\(path) is missing or empty")
        }
        let object = try JSONSerialization.jsonObject(with: data)
        guard let dict = object as? [String: Any] else {
            throw SupportError("\(path) does not hold a JSON object")
        }
        var result: [String: Int] = [:]
        for (key, value) in dict {
            if let n = value as? Int {
                result[key] = n
            } else if let d = value as? Double, d.isFinite {
                result[key] = Int(d)
            }
        }
        return result
    }
}
