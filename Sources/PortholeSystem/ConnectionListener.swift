import Glibc

/// Accepts connections on a listening socket from the event loop.
///
/// When the process or the system is out of descriptors (or memory),
/// accept fails while the connection stays queued, so the socket stays
/// readable: retrying at once spun a host at 100% CPU until descriptors came
/// back. Instead the listener stops watching the socket for `pause` seconds,
/// says so once per spell, and then tries again; connections wait in the
/// kernel's backlog meanwhile.
public final class ConnectionListener {
    private let socket: OwnedFD
    private let loop: EventLoop
    private let pause: Double
    private var token: EventLoop.Token?
    private let acceptOne: (OwnedFD) throws(SystemError) -> OwnedFD?
    private let onConnection: (OwnedFD) -> Void
    /// Spells spent waiting for descriptors (for tests and logs).
    public private(set) var pauses = 0
    private var quietSince: Int?

    /// `accept` takes one connection (nil: none waiting); tests give one
    /// that fails. `onConnection` gets each connection accepted.
    public init(socket: OwnedFD, loop: EventLoop, pause: Double = 0.25,
                accept: @escaping (OwnedFD) throws(SystemError) -> OwnedFD? = { fd throws(SystemError) in try Socket.accept(fd) },
                onConnection: @escaping (OwnedFD) -> Void) throws(SystemError) {
        self.socket = socket
        self.loop = loop
        self.pause = pause
        self.acceptOne = accept
        self.onConnection = onConnection
        token = try loop.register(socket.rawValue, events: .readable) { [weak self] _ in self?.acceptAll() }
    }

    private func acceptAll() {
        while token != nil {
            let fd: OwnedFD?
            do { fd = try acceptOne(socket) } catch {
                if Self.isExhaustion(error.code) { wait(error) } else { Log.warning("accept failed: \(error)") }
                return
            }
            guard let fd else { return }
            if quietSince != nil {
                Log.info("accepting connections again")
                quietSince = nil
            }
            onConnection(fd)
        }
    }

    /// Errors that pass once descriptors or memory come back.
    private static func isExhaustion(_ code: Int32) -> Bool {
        code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM
    }

    private func wait(_ error: SystemError) {
        guard let t = token else { return }
        pauses += 1
        if quietSince == nil {
            Log.warning("\(error); not accepting connections for \(pause) s at a time until descriptors come back")
            quietSince = pauses
        }
        loop.modify(t, events: [])
        // Not a timerfd: there may be no descriptor to make one with.
        loop.after(pause) { [weak self] in
            guard let self, let t = self.token else { return }
            self.loop.modify(t, events: .readable)
        }
    }

    /// Stops accepting and closes the socket.
    public func close() {
        if let t = token { loop.unregister(t) }
        token = nil
        socket.close()
    }
}
