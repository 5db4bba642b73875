import Foundation

/// A headless weston (pixman renderer, screenshooter enabled with --debug) on
/// a socket in a RuntimeDir.
///
/// By default it runs with a small weston.ini that makes the desktop plain
/// `Weston.background` (weston's own default is a tiled pattern plus a panel
/// with a clock, useless for pixel checks), turns off the idle timeout (else
/// the output fades to black after 300 s) and window animations (else a new
/// window zooms in over a few frames). Pass `plainDesktop: false` for
/// weston's defaults.
///
/// weston's desktop shell puts each new toplevel at a random position on the
/// output, so tests must find windows (see `Image.regions`), not assume a place.
final class Weston: @unchecked Sendable {
    /// The desktop colour with `plainDesktop` (opaque #204060).
    static let background = Color(rgb: 0x204060)

    let runtime: RuntimeDir
    let socketName: String
    let width: Int
    let height: Int
    let process: ManagedProcess

    /// Starts weston and waits (up to `startupTimeout` seconds) for its socket
    /// and, with `plainDesktop`, for the desktop to be painted.
    /// - runtime: the XDG_RUNTIME_DIR to use; when nil a new one, removed
    ///   once this Weston is released.
    init(
        runtime: RuntimeDir? = nil,
        socketName: String = "weston-test",
        width: Int = 1280,
        height: Int = 720,
        plainDesktop: Bool = true,
        startupTimeout: Double = 10,
        extraArguments: [String] = []
    ) throws {
        let runtime = try runtime ?? RuntimeDir(prefix: "weston")
        self.runtime = runtime
        self.socketName = socketName
        self.width = width
        self.height = height

        var arguments = [
            "--backend=headless-backend.so",
            "--socket=\(socketName)",
            "--width=\(width)",
            "--height=\(height)",
            "--use-pixman",
            "--debug",
        ]
        if plainDesktop {
            let config = runtime.file("weston-\(socketName).ini")
            try Weston.plainConfig.write(toFile: config, atomically: true, encoding: .utf8)
            arguments.insert("--config=\(config)", at: 0)
        } else {
            arguments.insert("--no-config", at: 0)
        }
        arguments += extraArguments

        process = try ManagedProcess(
            "weston", arguments,
            environment: ["XDG_RUNTIME_DIR": runtime.path],
            logDirectory: runtime.path,
            name: "weston-\(socketName)")

        let socketPath = runtime.file(socketName)
        let process = self.process
        let up = waitUntil(timeout: startupTimeout, poll: 0.02) {
            isSocket(socketPath) || !process.isRunning
        }
        guard up, process.isRunning else {
            process.kill()
            throw SupportError("weston did not create \(socketPath) within \(startupTimeout) s\n\(process.diagnostics())")
        }
        if plainDesktop {
            // Until desktop-shell has drawn, the output is black.
            do {
                _ = try waitForScreenshot("weston's desktop to be painted #204060", timeout: startupTimeout) { shot in
                    Weston.background.matches(shot.pixel(x: shot.width / 2, y: shot.height / 2))
                        && Weston.background.matches(shot.pixel(x: 0, y: 0))
                }
            } catch {
                process.kill()
                throw error
            }
        }
    }

    /// Same as `init`, reads better at a call site: `try Weston.start()`.
    static func start(
        runtime: RuntimeDir? = nil,
        socketName: String = "weston-test",
        width: Int = 1280,
        height: Int = 720,
        plainDesktop: Bool = true
    ) throws -> Weston {
        try Weston(runtime: runtime, socketName: socketName, width: width, height: height, plainDesktop: plainDesktop)
    }

    /// The compositor's socket.
    var socketPath: String { runtime.file(socketName) }

    /// XDG_RUNTIME_DIR and WAYLAND_DISPLAY for a client of this weston.
    var clientEnvironment: [String: String] { runtime.clientEnvironment(display: socketName) }

    var isRunning: Bool { process.isRunning }

    /// Starts a Wayland client on `display` (default: this weston's socket),
    /// a socket name in this weston's runtime dir or an absolute path.
    func startClient(
        _ executable: String,
        _ arguments: [String] = [],
        display: String? = nil,
        environment: [String: String] = [:]
    ) throws -> ManagedProcess {
        var env = runtime.clientEnvironment(display: display ?? socketName)
        for (key, value) in environment { env[key] = value }
        return try ManagedProcess(executable, arguments, environment: env, logDirectory: runtime.path)
    }

    /// A screenshot of the whole output, via weston-screenshooter.
    func screenshot(timeout: Double = 15) throws -> Image {
        let dir = try runtime.makeSubdirectory("shot")
        let result = try runCommand(
            "weston-screenshooter", [], environment: clientEnvironment,
            currentDirectory: dir, logDirectory: dir, timeout: timeout, check: false)
        let pngs = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix("wayland-screenshot-") && $0.hasSuffix(".png") }
            .sorted()
        guard result.exit.succeeded, let png = pngs.last else {
            throw SupportError("""
                weston-screenshooter (\(result.exit)) left no wayland-screenshot-*.png in \(dir); \
                stderr: \(result.stderr)
                \(process.diagnostics(tailLines: 15))
                """)
        }
        return try Image.load(path: "\(dir)/\(png)", logDirectory: dir)
    }

    /// Takes screenshots until `predicate` holds for one, and returns it.
    /// Throws after `timeout` seconds, naming `what` and the last screenshot's file.
    func waitForScreenshot(
        _ what: String,
        timeout: Double = 10,
        poll: Double = 0.1,
        _ predicate: (Image) throws -> Bool
    ) throws -> Image {
        var last: Image?
        do {
            return try waitFor(what, timeout: timeout, poll: poll) { () -> Image? in
                let shot = try screenshot()
                last = shot
                return try predicate(shot) ? shot : nil
            }
        } catch {
            throw SupportError("\(error); last screenshot: \(last?.sourcePath ?? "none")")
        }
    }

    /// wayland-info's output for `display` (default: this weston), a socket
    /// name in this weston's runtime dir or an absolute path.
    func waylandInfo(display: String? = nil, timeout: Double = 15) throws -> String {
        try Weston.waylandInfo(display: display ?? socketName, runtime: runtime, timeout: timeout)
    }

    /// wayland-info's output for `display` (a socket name in `runtime`, or an
    /// absolute path).
    static func waylandInfo(display: String, runtime: RuntimeDir, timeout: Double = 15) throws -> String {
        try runCommand(
            "wayland-info", [], environment: runtime.clientEnvironment(display: display),
            logDirectory: runtime.path, timeout: timeout
        ).stdoutText
    }

    /// Stops weston (SIGTERM to its process group, SIGKILL after 5 s).
    /// The runtime dir is left alone: its owner removes it.
    @discardableResult
    func stop() -> ManagedProcess.Exit {
        process.terminate(timeout: 5)
    }

    deinit { process.kill() }

    static let plainConfig = """
        [core]
        idle-time=0

        [shell]
        background-color=0xff204060
        panel-position=none
        locking=false
        animation=none
        close-animation=none
        startup-animation=none
        focus-animation=none

        """
}

/// Whether `path` exists and is a Unix socket.
func isSocket(_ path: String) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0 else { return false }
    return (st.st_mode & S_IFMT) == S_IFSOCK
}
