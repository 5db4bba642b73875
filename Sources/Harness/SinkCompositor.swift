import Foundation
import Glibc
import PortholeSystem

/// One buffer a client committed to the sink compositor, as its frame
/// handler sees it. `pixels` is the client's (or proxy's) shared memory,
/// valid only during the call: the buffer is released right after.
public struct SinkFrame {
    /// The connection that committed it (1 for the first client accepted, and so on).
    public let client: Int
    /// The app_id of the surface's xdg_toplevel, if one was set.
    public let appID: String?
    /// The wl_surface's id on that connection.
    public let surfaceID: UInt32
    /// How many commits with a buffer this surface made before this one (0 for the first).
    public let index: Int
    /// When the commit was read, on `MonotonicClock`.
    public let arrival: UInt64
    /// Buffer width in pixels.
    public let width: Int
    /// Buffer height in pixels.
    public let height: Int
    /// Bytes per row.
    public let stride: Int
    /// The wl_shm format code (0 ARGB8888, 1 XRGB8888).
    public let format: UInt32
    /// The buffer's `height * stride` bytes.
    public let pixels: UnsafeRawBufferPointer
}

/// Called on the compositor thread for every committed buffer.
public typealias FrameInspector = @Sendable (SinkFrame) -> Void

/// A minimal but real Wayland compositor that consumes frames as fast as
/// clients send them: for benchmarks.
///
/// It advertises wl_compositor v4, wl_shm v1 (ARGB8888, XRGB8888),
/// xdg_wm_base v1 and one wl_output v3, checks every request like
/// `RecordingCompositor`, and configures each toplevel at once. When it reads
/// a commit with a buffer it hands the mapped buffer to `inspector` (on its own
/// thread, with the arrival time taken as the commit was read), then releases
/// the buffer and fires the surface's frame callbacks, all before reading the
/// next request. Nothing is copied or kept.
public final class SinkCompositor: @unchecked Sendable {
    /// The absolute path of the listening socket.
    public let socketPath: String
    private let inspector: FrameInspector?
    private let deferredInspector: DeferredFrameInspector?
    private let log = CommitLog(limit: 1)
    private let lock = NSLock()
    private var running: CompositorThread?

    /// A sink that will listen on `socketPath` once started and pass every
    /// committed buffer to `inspector`.
    public init(socketPath: String, inspector: @escaping FrameInspector) {
        self.socketPath = socketPath
        self.inspector = inspector
        deferredInspector = nil
    }

    /// A sink whose inspections finish later (`SinkFrameTicket`): it reads
    /// other clients' commits while one is being looked at.
    public init(socketPath: String, deferred deferredInspector: @escaping DeferredFrameInspector) {
        self.socketPath = socketPath
        inspector = nil
        self.deferredInspector = deferredInspector
    }

    deinit { stop() }

    /// Creates the socket and starts serving on a background thread.
    public func start() throws(HarnessError) {
        lock.lock()
        defer { lock.unlock() }
        guard running == nil else { throw .invalidArgument("the sink on \(socketPath) is already running") }
        let log = self.log
        let inspector = self.inspector
        let deferredInspector = self.deferredInspector
        running = try CompositorThread(socketPath: socketPath, name: "sink-compositor") { listener, wake throws(SystemError) in
            try CompositorServer(listener: listener, wake: wake, log: log, frameInterval: 0, bufferRelease: .afterCopy,
                                 globals: CompositorServer.sinkGlobals, inspector: inspector,
                                 deferredInspector: deferredInspector)
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

    /// The wl_display.error messages posted to clients, one line each.
    public var postedErrors: [String] { log.postedErrors }
}
