import Foundation

/// Runs one matrix app on one side of a ProxiedSway (a client of sway
/// itself, or of the guest proxy) and records what sway showed and what the
/// app's WAYLAND_DEBUG trace says; then types into it with wtype, a client
/// of sway on the host side, as a user at the host's keyboard would.
///
/// Sway's windows float (the test sets `for_window [app_id=".*"] floating enable`),
/// so each window has the size the app chose, not a tile's.
struct MatrixRunner {
    let chain: ProxiedSway

    /// Pause between wtype's start and its first key. Headless sway's seat
    /// has no keyboard of its own: wtype's virtual keyboard gives it one,
    /// the app then asks for its wl_keyboard, and keys sent before that
    /// reach nothing. Through the proxies that round trip is a little
    /// longer; 1 s covers it on a busy machine.
    static let typingPause = "1000"

    func run(_ app: MatrixApp, on side: ProxiedSway.Side) throws -> MatrixRun {
        let dir = try chain.runtime.makeSubdirectory("\(app.name)-\(side.rawValue)")
        try app.prepare(dir)
        var environment = app.environment
        environment["WAYLAND_DEBUG"] = "1"
        environment["HOME"] = dir
        let started = monotonicSeconds()
        let process = side == .guest
            ? try chain.startGuestClient(app.executable, app.arguments(dir), environment: environment)
            : try chain.startHostClient(app.executable, app.arguments(dir), environment: environment)
        defer { stop(process, side: side) }

        let mapped = try waitForWindow(of: app, process, side: side, timeout: app.startTimeout)
        let mapSeconds = monotonicSeconds() - started
        try waitUntilReady(app, process, side: side, timeout: app.startTimeout)
        // Let it draw its first frames and settle at its size.
        Thread.sleep(forTimeInterval: 1)
        let window = try chain.sway.windows().first(where: belongs(to: side)) ?? mapped
        let colors = try screenshotColors(window, name: "\(app.name)-\(side.rawValue)")

        let before = effectSeen(app.effect, process, side: side, dir: dir)
        let typist = try chain.startHostClient("wtype", ["-s", Self.typingPause] + app.keys(dir))
        let typed = typist.waitForExit(timeout: 30)
        var (reached, detail) = waitForEffect(app.effect, process, side: side, dir: dir, timeout: 20)
        if before.seen {
            reached = false
            detail = "seen before anything was typed: \(before.detail)"
        } else if typed?.succeeded != true {
            reached = false
            detail = "wtype failed (\(typed.map(String.init(describing:)) ?? "still running")): \(typist.stderr)"
        }

        let log = WaylandDebugLog(process.stderr)
        return MatrixRun(
            side: side, window: window, mapSeconds: mapSeconds,
            decoration: DecorationNegotiation(log),
            shmPools: log.count("wl_shm", "create_pool"),
            dmabufBuffers: log.count("zwp_linux_dmabuf_v1", "create_params"),
            boundInterfaces: log.boundInterfaces,
            keyEvents: log.count("wl_keyboard", "key"),
            colors: colors, inputReached: reached, inputDetail: detail,
            logs: process.diagnostics(tailLines: 20))
    }

    /// Direct windows belong to the app's own process; proxied ones to the
    /// porthole host, the client sway sees. One app runs at a time.
    private func belongs(to side: ProxiedSway.Side) -> (Sway.Window) -> Bool {
        let host = chain.host.pid
        return side == .guest ? { $0.pid == host } : { $0.pid != host }
    }

    private func waitForWindow(of app: MatrixApp, _ process: ManagedProcess, side: ProxiedSway.Side, timeout: Double) throws -> Sway.Window {
        var window: Sway.Window?
        waitUntil(timeout: timeout, poll: 0.1) {
            window = (try? chain.sway.windows())?.first(where: belongs(to: side))
            return window != nil || !process.isRunning
        }
        guard let window else {
            let state = process.isRunning ? "no window after \(timeout) s" : "it ended (\(process.exit.map(String.init(describing:)) ?? "?")) before its window mapped"
            throw SupportError("\(app.name) \(side == .guest ? "through Porthole" : "directly"): \(state)\n\(process.diagnostics(tailLines: 20))\n\(chain.diagnostics(tailLines: 10))")
        }
        return window
    }

    /// Waits for the window to have sway's focus (wtype types into the
    /// focused window) and, for a browser, for its page's title.
    private func waitUntilReady(_ app: MatrixApp, _ process: ManagedProcess, side: ProxiedSway.Side, timeout: Double) throws {
        var last: Sway.Window?
        let ready = waitUntil(timeout: timeout, poll: 0.1) {
            last = (try? chain.sway.windows())?.first(where: belongs(to: side))
            guard let window = last else { return !process.isRunning }
            return window.focused && app.readyTitle.map { (window.title ?? "").contains($0) } ?? true
        }
        guard ready, process.isRunning else {
            throw SupportError("\(app.name) on the \(side.rawValue) side was not ready to type into (focused, title containing \(app.readyTitle ?? "anything")): \(last.map(String.init(describing:)) ?? "no window"), title \(last?.title ?? "none")\n\(process.diagnostics(tailLines: 20))")
        }
    }

    private func screenshotColors(_ window: Sway.Window, name: String) throws -> Int {
        let file = chain.runtime.file("\(name).png")
        try chain.shell(.host, "grim -g '\(window.x),\(window.y) \(window.width)x\(window.height)' \(file)")
        return try Image.load(path: file, logDirectory: chain.runtime.path).distinctColors()
    }

    private func effectSeen(_ effect: MatrixApp.Effect, _ process: ManagedProcess, side: ProxiedSway.Side, dir: String) -> (seen: Bool, detail: String) {
        switch effect {
        case .writesFile(let content):
            let text = (try? String(contentsOfFile: MatrixApp.typedFile(in: dir), encoding: .utf8)) ?? ""
            return (text == content + "\n", text.isEmpty ? "no file yet" : "the file holds \(text.debugDescription)")
        case .printsAndExits(let line):
            let exit = process.exit
            return (exit == .exited(0) && process.stdout == line + "\n",
                    "\(exit.map(String.init(describing:)) ?? "running"), stdout \(process.stdout.debugDescription)")
        case .exits:
            let exit = process.exit
            return (exit == .exited(0), exit.map(String.init(describing:)) ?? "running")
        case .retitles(let title):
            let now = (try? chain.sway.windows())?.first(where: belongs(to: side))?.title ?? ""
            return (now.contains(title), "title \(now.debugDescription)")
        }
    }

    private func waitForEffect(_ effect: MatrixApp.Effect, _ process: ManagedProcess, side: ProxiedSway.Side, dir: String, timeout: Double) -> (Bool, String) {
        var last = (seen: false, detail: "")
        waitUntil(timeout: timeout, poll: 0.1) {
            last = effectSeen(effect, process, side: side, dir: dir)
            return last.seen
        }
        return (last.seen, last.detail)
    }

    /// Ends the app and waits for its window to go, so that the next run's
    /// window is the only one.
    private func stop(_ process: ManagedProcess, side: ProxiedSway.Side) {
        process.terminate(timeout: 10)
        waitUntil(timeout: 10, poll: 0.1) {
            ((try? chain.sway.windows()) ?? []).first(where: belongs(to: side)) == nil
        }
    }
}
