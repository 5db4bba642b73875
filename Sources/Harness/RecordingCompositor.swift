import Foundation
import Glibc
import PortholeSystem

/// A minimal Wayland compositor for tests: it listens on a unix socket,
/// serves any number of clients on one background thread, and records a
/// copy of every buffer a client commits.
///
/// It advertises wl_compositor v4, wl_shm v1 (formats ARGB8888 and
/// XRGB8888) and xdg_wm_base v1. Every request is decoded against
/// `ProtocolTables.builtin` and tracked in an `ObjectMap`; unknown objects
/// or opcodes and malformed messages get a wl_display.error. A new toplevel
/// is configured at once (size 0x0, no states). A commit with a buffer
/// records the buffer's bytes and releases it (see `BufferRelease`); frame
/// callbacks fire on the next tick of `frameInterval` (or at once if it is zero).
public final class RecordingCompositor: @unchecked Sendable {
    // `running` is guarded by `lock`; `log` is thread-safe; the rest is immutable.

    /// The absolute path of the listening socket.
    public let socketPath: String
    /// Time between frame-callback ticks (zero: fire at commit).
    public let frameInterval: Duration
    /// When committed buffers are released.
    public let bufferRelease: BufferRelease
    private let log: CommitLog
    private let lock = NSLock()
    private var running: CompositorThread?

    /// A compositor that will listen on `socketPath` once started, keeping
    /// the newest `recordLimit` commits.
    public init(socketPath: String, frameInterval: Duration = .milliseconds(16), bufferRelease: BufferRelease = .afterCopy, recordLimit: Int = 512) {
        self.socketPath = socketPath
        self.frameInterval = frameInterval
        self.bufferRelease = bufferRelease
        log = CommitLog(limit: recordLimit)
    }

    deinit { stop() }

    /// Creates the socket and starts serving on a background thread.
    public func start() throws(HarnessError) {
        lock.lock()
        defer { lock.unlock() }
        guard running == nil else { throw .invalidArgument("the compositor on \(socketPath) is already running") }
        let log = self.log
        let interval = frameInterval.nanoseconds
        let release = bufferRelease
        running = try CompositorThread(socketPath: socketPath, name: "recording-compositor") { listener, wake throws(SystemError) in
            try CompositorServer(listener: listener, wake: wake, log: log, frameInterval: interval, bufferRelease: release)
        }
    }

    /// Stops serving, disconnects every client and removes the socket.
    /// Safe to call when not running.
    public func stop() {
        lock.lock()
        let current = running
        running = nil
        lock.unlock()
        current?.stop()
    }

    /// The recorded commits still retained, oldest first.
    public var commits: [RecordedCommit] { log.commits }

    /// How many commits were recorded since start (including dropped ones).
    public var commitCount: Int { log.count }

    /// The wl_display.error messages posted to clients, one line each.
    public var postedErrors: [String] { log.postedErrors }

    /// Waits until at least `count` commits have been recorded in all;
    /// false if `timeout` passed first.
    @discardableResult
    public func waitForCommits(_ count: Int, timeout: Duration = .seconds(10)) -> Bool {
        log.wait(forCount: count, timeout: timeout)
    }
}
