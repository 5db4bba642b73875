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
    private struct Running {
        var thread: Thread
        var finished: DispatchSemaphore
        var wakeWriter: OwnedFD
        var resources: ThreadResources
    }

    /// Descriptors handed to the background thread.
    private final class ThreadResources: @unchecked Sendable {
        let listener: OwnedFD
        let wakeReader: OwnedFD
        var startError: SystemError?
        init(listener: OwnedFD, wakeReader: OwnedFD) {
            self.listener = listener
            self.wakeReader = wakeReader
        }
    }

    /// The absolute path of the listening socket.
    public let socketPath: String
    /// Time between frame-callback ticks (zero: fire at commit).
    public let frameInterval: Duration
    /// When committed buffers are released.
    public let bufferRelease: BufferRelease
    private let log: CommitLog
    private let lock = NSLock()
    private var running: Running?

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
        let listener = try system("listen on \(socketPath)") { () throws(SystemError) in try Socket.listen(.unix(path: socketPath)) }
        let (wakeReader, wakeWriter) = try system("create the wake-up socket pair") { () throws(SystemError) in try Socket.pair() }
        let resources = ThreadResources(listener: listener, wakeReader: wakeReader)
        let ready = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let log = self.log
        let interval = frameInterval.nanoseconds
        let release = bufferRelease
        let thread = Thread {
            let server: CompositorServer
            do throws(SystemError) {
                server = try CompositorServer(listener: resources.listener, wake: resources.wakeReader, log: log, frameInterval: interval, bufferRelease: release)
            } catch {
                resources.startError = error
                ready.signal()
                finished.signal()
                return
            }
            ready.signal()
            server.run()
            finished.signal()
        }
        thread.name = "recording-compositor"
        thread.start()
        ready.wait()
        if let error = resources.startError {
            unlink(socketPath)
            throw .system(context: "start the compositor event loop", error)
        }
        running = Running(thread: thread, finished: finished, wakeWriter: wakeWriter, resources: resources)
    }

    /// Stops serving, disconnects every client and removes the socket.
    /// Safe to call when not running.
    public func stop() {
        lock.lock()
        let current = running
        running = nil
        lock.unlock()
        guard let current else { return }
        var byte: UInt8 = 1
        _ = Glibc.write(current.wakeWriter.rawValue, &byte, 1)
        current.finished.wait()
        current.resources.listener.close()
        current.resources.wakeReader.close()
        current.wakeWriter.close()
        unlink(socketPath)
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
