import Foundation
import Glibc

/// A headless sway (wlroots) for tests: a second real compositor, and unlike
/// headless weston it has a seat, data-control, primary selection and the
/// virtual keyboard protocol.
///
/// sway refuses to run as root, so it runs as the unprivileged user
/// `porthole-sway` (created with `useradd -m` the first time, since tests run
/// as root in CI), with its own 0700 XDG_RUNTIME_DIR owned by that user under
/// /tmp. Root can still connect to its socket: clients and the porthole host
/// use its absolute path (`socketPath`). `stop()` (and deinit) kill sway's
/// process group and remove that directory.
final class Sway: @unchecked Sendable {
    static let userName = "porthole-sway"

    /// Where the test's own files and logs are (owned by root).
    let runtime: RuntimeDir
    /// sway's XDG_RUNTIME_DIR, owned by `userName`, mode 0700.
    let swayRuntimePath: String
    /// Absolute path of sway's Wayland socket.
    let socketPath: String
    let process: ManagedProcess
    /// The headless output's size in pixels (the whole layout).
    let width: Int
    let height: Int
    private let lock = NSLock()
    private var removed = false

    /// Starts sway and waits (up to `startupTimeout` seconds) for its Wayland socket.
    init(runtime: RuntimeDir, width: Int = 1280, height: Int = 720, startupTimeout: Double = 15) throws {
        self.runtime = runtime
        self.width = width
        self.height = height
        let user = try Sway.ensureUser()
        let dir = try Sway.makeUserRuntimeDir(uid: user.uid, gid: user.gid)
        swayRuntimePath = dir
        do {
            let config = "\(dir)/sway.conf"
            try """
                output HEADLESS-1 resolution \(width)x\(height)
                xwayland disable
                focus_follows_mouse no

                """.write(toFile: config, atomically: false, encoding: .utf8)
            _ = chown(config, user.uid, user.gid)
            let environment = [
                "HOME": user.home,
                "USER": Sway.userName,
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "XDG_RUNTIME_DIR": dir,
                "WLR_BACKENDS": "headless",
                "WLR_LIBINPUT_NO_DEVICES": "1",
                "WLR_RENDERER": "pixman",
            ]
            // setpriv execs sway, so the process (and the group it leads) is sway itself.
            process = try ManagedProcess(
                "setpriv",
                ["--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups", "--", try findExecutable("sway"), "-c", config],
                environment: environment, inheritEnvironment: false,
                logDirectory: runtime.path, name: "sway")
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
        let process = self.process
        var found: String?
        let up = waitUntil(timeout: startupTimeout, poll: 0.02) {
            found = Sway.waylandSocket(in: dir)
            return found != nil || !process.isRunning
        }
        guard up, process.isRunning, let found else {
            process.kill()
            try? FileManager.default.removeItem(atPath: dir)
            throw SupportError("sway did not create a Wayland socket in \(dir) within \(startupTimeout) s\n\(process.diagnostics())")
        }
        socketPath = found
    }

    var isRunning: Bool { process.isRunning }

    /// Environment for a client of sway run by the test (as root): the
    /// test's runtime dir, and sway's socket by absolute path.
    var clientEnvironment: [String: String] { runtime.clientEnvironment(display: socketPath) }

    /// Starts a Wayland client of sway itself.
    func startClient(_ executable: String, _ arguments: [String] = [], environment: [String: String] = [:]) throws -> ManagedProcess {
        var env = clientEnvironment
        for (key, value) in environment { env[key] = value }
        return try ManagedProcess(executable, arguments, environment: env, logDirectory: runtime.path)
    }

    /// Runs `swaymsg ARGS` against this sway's IPC socket and returns its stdout.
    func swaymsg(_ arguments: [String], timeout: Double = 10) throws -> String {
        guard let ipc = try FileManager.default.contentsOfDirectory(atPath: swayRuntimePath)
            .first(where: { $0.hasPrefix("sway-ipc.") && $0.hasSuffix(".sock") })
        else { throw SupportError("sway has no IPC socket in \(swayRuntimePath)") }
        return try runCommand("swaymsg", ["-s", "\(swayRuntimePath)/\(ipc)"] + arguments,
                              logDirectory: runtime.path, timeout: timeout).stdoutText
    }

    /// The capabilities bitmask of sway's first seat (1 pointer, 2 keyboard, 4 touch).
    func seatCapabilities() throws -> Int {
        let json = try swaymsg(["-r", "-t", "get_seats"])
        guard let seats = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]],
              let caps = seats.first?["capabilities"] as? Int
        else { throw SupportError("unexpected get_seats reply: \(json)") }
        return caps
    }

    /// A mapped window as sway's tree shows it.
    struct Window: Sendable, CustomStringConvertible {
        var appID: String?
        /// The title sway shows (for a guest's window, with the host's "[name] " label).
        var title: String?
        /// The process sway sees as the client (for a guest's window, the porthole host).
        var pid: Int32
        /// Where the surface's (0, 0) is in the layout, and its size.
        var x: Int, y: Int, width: Int, height: Int
        var focused: Bool
        var description: String { "\(appID ?? "?") (pid \(pid)) at \(x),\(y) \(width)x\(height)\(focused ? " focused" : "")" }
    }

    /// Every mapped window, in tree order (for tiled windows, left to right).
    func windows() throws -> [Window] {
        let json = try swaymsg(["-r", "-t", "get_tree"])
        var found: [Window] = []
        func walk(_ node: Any) {
            guard let n = node as? [String: Any] else { return }
            if let pid = n["pid"] as? Int, let rect = n["rect"] as? [String: Int], let inner = n["window_rect"] as? [String: Int],
               let x = rect["x"], let y = rect["y"], let dx = inner["x"], let dy = inner["y"], let w = inner["width"], let h = inner["height"] {
                found.append(Window(appID: n["app_id"] as? String, title: n["name"] as? String, pid: Int32(pid), x: x + dx, y: y + dy, width: w, height: h,
                                    focused: n["focused"] as? Bool ?? false))
            }
            for key in ["nodes", "floating_nodes"] {
                for child in n[key] as? [Any] ?? [] { walk(child) }
            }
        }
        walk(try JSONSerialization.jsonObject(with: Data(json.utf8)))
        return found
    }

    /// Waits until a window of process `pid` is mapped and returns it.
    func waitForWindow(pid: Int32, timeout: Double = 15) throws -> Window {
        var last: [Window] = []
        do {
            return try waitFor("a window of pid \(pid) in sway", timeout: timeout, poll: 0.1) { () -> Window? in
                last = try windows()
                return last.first { $0.pid == pid }
            }
        } catch {
            throw SupportError("\(error); windows: \(last)\n\(process.diagnostics(tailLines: 10))")
        }
    }

    /// Waits for a window of process `pid` whose place and size sway has
    /// reported the same for `steady` seconds: right after it maps, sway
    /// may still move it (decorations, the client's first configured size),
    /// and a pointer aimed at the first place it was reported at has missed
    /// the surface on a busy machine.
    func waitForSteadyWindow(pid: Int32, steady: Double = 0.5, timeout: Double = 15) throws -> Window {
        var last: (window: Window, since: Double)?
        var seen: [Window] = []
        do {
            return try waitFor("a window of pid \(pid) in sway that stays put for \(steady) s", timeout: timeout, poll: 0.1) { () -> Window? in
                seen = try windows()
                guard let w = seen.first(where: { $0.pid == pid }) else { last = nil; return nil }
                if let l = last, (l.window.x, l.window.y, l.window.width, l.window.height) == (w.x, w.y, w.width, w.height) {
                    return monotonicSeconds() - l.since >= steady ? w : nil
                }
                last = (w, monotonicSeconds())
                return nil
            }
        } catch {
            throw SupportError("\(error); windows: \(seen)\n\(process.diagnostics(tailLines: 10))")
        }
    }

    /// The app_id of the focused window, if any.
    func focusedAppID() throws -> String? {
        let json = try swaymsg(["-r", "-t", "get_tree"])
        let tree = try JSONSerialization.jsonObject(with: Data(json.utf8))
        func search(_ node: Any) -> String?? {
            guard let n = node as? [String: Any] else { return nil }
            if n["focused"] as? Bool == true { return .some(n["app_id"] as? String) }
            for key in ["nodes", "floating_nodes"] {
                for child in n[key] as? [Any] ?? [] { if let hit = search(child) { return hit } }
            }
            return nil
        }
        return search(tree) ?? nil
    }

    /// Waits until the window with `appID` has the focus.
    func waitForFocus(appID: String, timeout: Double = 15) throws {
        var last: String?
        do {
            _ = try waitFor("\(appID) to have sway's focus", timeout: timeout, poll: 0.1) { () -> Bool? in
                last = try focusedAppID()
                return last == appID ? true : nil
            }
        } catch {
            throw SupportError("\(error); focused: \(last ?? "nothing")\n\(process.diagnostics(tailLines: 10))")
        }
    }

    /// Stops sway (SIGTERM to its process group, SIGKILL after 5 s) and
    /// removes its runtime dir. Idempotent.
    @discardableResult
    func stop() -> ManagedProcess.Exit {
        let exit = process.terminate(timeout: 5)
        let first = lock.withLock { () -> Bool in
            defer { removed = true }
            return !removed
        }
        if first { try? FileManager.default.removeItem(atPath: swayRuntimePath) }
        return exit
    }

    deinit { stop() }

    // MARK: - Setup

    private static let userLock = NSLock()

    /// The user sway runs as, created on first use.
    private static func ensureUser() throws -> (uid: uid_t, gid: gid_t, home: String) {
        try userLock.withLock {
            if let user = lookUpUser() { return user }
            guard getuid() == 0 else {
                throw SupportError("user \(userName) does not exist and only root can create it (useradd -m \(userName))")
            }
            let result = try runCommand(try findExecutable("useradd"), ["-m", userName], logDirectory: "/tmp", timeout: 30, check: false)
            guard let user = lookUpUser() else {
                throw SupportError("useradd -m \(userName) failed (\(result.exit)): \(result.stderr)")
            }
            return user
        }
    }

    private static func lookUpUser() -> (uid: uid_t, gid: gid_t, home: String)? {
        guard let pw = getpwnam(userName) else { return nil }
        return (pw.pointee.pw_uid, pw.pointee.pw_gid, String(cString: pw.pointee.pw_dir))
    }

    /// A fresh 0700 directory under /tmp owned by the sway user. It carries
    /// the test-owner marker, so a later run sweeps it up if this test
    /// process dies without removing it (see RuntimeDir).
    private static func makeUserRuntimeDir(uid: uid_t, gid: gid_t) throws -> String {
        var template = Array("/tmp/phsway.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else { throw SupportError("mkdtemp /tmp/phsway.XXXXXX failed: \(String(cString: strerror(errno)))") }
        let dir = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        try? "\(getpid())\n".write(toFile: "\(dir)/\(RuntimeDir.ownerMarker)", atomically: false, encoding: .utf8)
        guard chown(dir, uid, gid) == 0, chmod(dir, 0o700) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: dir)
            throw SupportError("cannot give \(dir) to \(userName): \(reason)")
        }
        return dir
    }

    /// The Wayland socket sway made in `dir` (wayland-N, not its .lock).
    private static func waylandSocket(in dir: String) -> String? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
        return names.filter { $0.hasPrefix("wayland-") && !$0.hasSuffix(".lock") }
            .sorted()
            .map { "\(dir)/\($0)" }
            .first(where: isSocket)
    }
}

/// headless sway <- porthole host <- link -> porthole guest, for clipboard
/// and keyboard tests. Host and guest share the test's runtime dir; sway has
/// its own. `stop()` ends them in reverse order.
final class ProxiedSway: @unchecked Sendable {
    let runtime: RuntimeDir
    let sway: Sway
    let host: PortholeProcess
    let guest: PortholeProcess

    /// `allow`: capabilities the host gives the guest (`--allow`); by default
    /// a guest has none of them, as a real one.
    init(verbose: Bool = false, allow: [String] = [], hostArguments: [String] = [], guestArguments: [String] = [], timeout: Double = 15) throws {
        let hostArguments = (allow.isEmpty ? [] : ["--allow", allow.joined(separator: ",")]) + hostArguments
        let runtime = try RuntimeDir(prefix: "phs")
        self.runtime = runtime
        let sway = try Sway(runtime: runtime)
        self.sway = sway
        let address = LinkAddress.unix(in: runtime)
        do {
            host = try Porthole.startHost(runtime: runtime, link: .listen(address), display: sway.socketPath,
                                          verbose: verbose, extraArguments: hostArguments)
            try host.waitForListening(timeout: timeout)
            guest = try Porthole.startGuest(runtime: runtime, link: .connect(address), socketName: "wayland-guest",
                                            verbose: verbose, extraArguments: guestArguments)
            try guest.waitForSocket(timeout: timeout)
            try PortholeProcess.waitForBulkLane(host: host, guest: guest, timeout: timeout)
        } catch {
            sway.stop()
            throw error
        }
    }

    /// Environment for a client of the guest proxy.
    var guestEnvironment: [String: String] { runtime.clientEnvironment(display: guest.socketName!) }

    /// Starts a Wayland client of the guest's socket.
    func startGuestClient(_ executable: String, _ arguments: [String] = [], environment: [String: String] = [:]) throws -> ManagedProcess {
        try guest.startClient(executable, arguments, environment: environment)
    }

    /// Starts a Wayland client of sway itself.
    func startHostClient(_ executable: String, _ arguments: [String] = [], environment: [String: String] = [:]) throws -> ManagedProcess {
        try sway.startClient(executable, arguments, environment: environment)
    }

    /// Which compositor a client talks to: the guest proxy's socket, or sway itself.
    enum Side: String, Sendable { case guest, host }

    func environment(_ side: Side) -> [String: String] { side == .guest ? guestEnvironment : sway.clientEnvironment }

    private let lock = NSLock()
    /// Process groups of shell commands, for what they leave running in the
    /// background (wl-copy forks and keeps serving its selection).
    private var shellGroups: [Int32] = []

    /// Runs a bash command line (for pipes and redirections) as a client of
    /// `side`, to completion. Throws on a timeout, and (with `check`) on a
    /// non-zero exit, with its stderr.
    ///
    /// The script first closes every inherited descriptor above 2. Without
    /// that, Foundation's Process never reported the end of
    /// `sh -c 'echo text | wl-copy'` while wl-copy's background process
    /// lived: that process kept a descriptor Process had given the shell.
    @discardableResult
    func shell(_ side: Side, _ script: String, timeout: Double = 30, check: Bool = true) throws -> CommandResult {
        let closeInherited = #"for fd in $(ls /proc/$$/fd); do if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done 2>/dev/null; "#
        let process = try ManagedProcess("/bin/bash", ["-c", closeInherited + script], environment: environment(side),
                                         logDirectory: runtime.path, name: "sh-\(side.rawValue)")
        lock.withLock { shellGroups.append(process.pid) }
        guard let exit = process.waitForExit(timeout: timeout) else {
            process.kill()
            throw SupportError("timed out after \(timeout) s: bash -c \(script)\n\(process.diagnostics())")
        }
        let result = CommandResult(exit: exit, stdout: process.stdoutData, stderr: process.stderr)
        if check && !exit.succeeded {
            throw SupportError("bash -c \(script) failed (\(exit)); stderr:\n\(result.stderr)")
        }
        return result
    }

    /// Logs of the proxies and sway, for failure messages.
    func diagnostics(tailLines: Int = 30) -> String {
        [guest.diagnostics(tailLines: tailLines), host.diagnostics(tailLines: tailLines),
         sway.process.diagnostics(tailLines: tailLines)].joined(separator: "\n")
    }

    func stop() {
        guest.terminate()
        host.terminate()
        for group in lock.withLock({ shellGroups }) { killLeftovers(ofGroup: group) }
        sway.stop()
    }
}
