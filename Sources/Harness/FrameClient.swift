import PortholeSystem
import Wayland

/// A rectangle of buffer pixels.
public struct PixelRect: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// Width times height.
    public var area: Int { width * height }

    public var description: String { "\(width)x\(height)+\(x)+\(y)" }
}

/// A real Wayland client for benchmarks: an xdg_toplevel drawn with wl_shm
/// into reused buffers (double-buffered by default), where the caller paints
/// straight into the buffer's shared memory.
///
/// Unlike `PatternClient` it keeps no picture of its own and copies nothing:
/// `draw` hands the caller a free buffer together with the frame that buffer
/// last held (its age), so the caller repaints only what changed since then.
/// Several damage rectangles may be sent per frame. All calls block; use it
/// from one thread at a time.
public final class FrameClient: @unchecked Sendable {
    /// Surface width in pixels.
    public let width: Int
    /// Surface height in pixels.
    public let height: Int
    /// Bytes per buffer row (XRGB8888, no padding).
    public var stride: Int { width * 4 }
    /// How long a blocking call waits by default.
    public let timeout: Duration
    /// Number of frames committed so far.
    public private(set) var framesDrawn = 0
    /// How many frames had to wait for a wl_buffer.release first.
    public private(set) var framesThatWaitedForRelease = 0

    private let session: ClientSession
    private var globals: [(name: UInt32, interface: String, version: UInt32)] = []
    private var registryID: UInt32 = 0
    private var surfaceID: UInt32 = 0
    private var xdgSurfaceID: UInt32 = 0
    private var toplevelID: UInt32 = 0
    private var wmBaseID: UInt32 = 0
    private var configured = false
    private var buffers: ShmBufferSet?
    private let sharedAllocator = SharedMemoryAllocator()
    private var pendingFrameCallback: UInt32?
    private var closed = false

    /// Connects to the Wayland socket at `socketPath` (absolute), creates a
    /// `width` x `height` toplevel titled `title` with `appID`, waits for its
    /// first configure and creates `bufferCount` buffers in one pool.
    /// With `sharedMemory`, the buffers come from porthole_shared_memory_v1
    /// (the guest proxy's shared region) instead of a memfd of its own.
    public init(socketPath: String, width: Int, height: Int, appID: String, title: String = "porthole-bench",
                bufferCount: Int = 2, sharedMemory: Bool = false, timeout: Duration = .seconds(30)) throws(HarnessError) {
        guard width > 0, height > 0, width <= 16384, height <= 16384 else {
            throw .invalidArgument("surface size \(width)x\(height)")
        }
        guard bufferCount >= 1 && bufferCount <= 4 else { throw .invalidArgument("\(bufferCount) buffers") }
        self.width = width
        self.height = height
        self.timeout = timeout
        session = try ClientSession(socketPath: socketPath)
        session.eventHandler = { [unowned self] (event: ClientEvent) throws(HarnessError) in try self.handle(event) }

        registryID = session.newID()
        try session.send(Wire.displayID, "get_registry", [.newID(registryID)])
        try roundtrip()
        let compositorID = try bind("wl_compositor", atMost: 4)
        let shmID = try bind("wl_shm", atMost: 1)
        wmBaseID = try bind("xdg_wm_base", atMost: ProtocolTables.builtin["xdg_wm_base"]?.version ?? 1)
        surfaceID = session.newID()
        try session.send(compositorID, "create_surface", [.newID(surfaceID)])
        xdgSurfaceID = session.newID()
        try session.send(wmBaseID, "get_xdg_surface", [.newID(xdgSurfaceID), .object(surfaceID)])
        toplevelID = session.newID()
        try session.send(xdgSurfaceID, "get_toplevel", [.newID(toplevelID)])
        try session.send(toplevelID, "set_title", [.text(title)])
        try session.send(toplevelID, "set_app_id", [.text(appID)])
        try session.send(surfaceID, "commit")
        try session.dispatch(timeout: timeout, waitingFor: "the first xdg_surface.configure") { configured }
        if sharedMemory {
            buffers = try sharedAllocator.makeBuffers(session: session, allocatorID: try bind("porthole_shared_memory_v1", atMost: 1),
                                                      shmID: shmID, width: width, height: height, count: bufferCount, timeout: timeout)
        } else {
            buffers = try ShmBufferSet(session: session, shmID: shmID, width: width, height: height, count: bufferCount)
        }
        try roundtrip()
    }

    deinit { session.close() }

    private func bind(_ interface: String, atMost: UInt32) throws(HarnessError) -> UInt32 {
        guard let global = globals.first(where: { $0.interface == interface }) else { throw .missingGlobal(interface) }
        let version = max(1, min(atMost, global.version))
        let id = session.newID()
        try session.send(registryID, "bind", [.uint(global.name), .untypedNewID(interface: Array(interface.utf8), version: version, id: id)])
        return id
    }

    private func handle(_ event: ClientEvent) throws(HarnessError) {
        if try sharedAllocator.handle(event) { return }
        switch (event.interface.name, event.spec.name) {
        case ("wl_registry", "global"):
            if case .uint(let name) = event.args[0], case .string(let iface?) = event.args[1], case .uint(let version) = event.args[2] {
                globals.append((name, String(decoding: iface, as: UTF8.self), version))
            }
        case ("wl_registry", "global_remove"):
            if case .uint(let name) = event.args[0] { globals.removeAll { $0.name == name } }
        case ("xdg_wm_base", "ping"):
            try session.send(event.objectID, "pong", [event.args[0]])
        case ("xdg_surface", "configure"):
            try session.send(event.objectID, "ack_configure", [event.args[0]])
            configured = true
        case ("wl_buffer", "release"):
            guard buffers?.release(event.objectID) == true else {
                throw .protocolViolation("wl_buffer.release for unknown buffer \(event.objectID)")
            }
        default:
            break
        }
    }

    /// Draws and commits frame `frame`. Waits for a free buffer, then calls
    /// `paint(pixels, stride, heldFrame)`, where `heldFrame` is the frame
    /// that buffer shows now (nil if it was never drawn into); `paint` must
    /// bring the whole buffer to frame `frame`. Then attaches the buffer,
    /// damages `damage` (nil: the whole buffer), asks for a frame callback,
    /// calls `beforeCommit` and commits, sending everything at once.
    public func draw(frame: Int, damage: [PixelRect]?,
                     paint: (UnsafeMutableRawPointer, Int, Int?) -> Void,
                     beforeCommit: () -> Void = {}) throws(HarnessError) {
        guard !closed, let buffers else { throw .disconnected("the client was closed") }
        try session.dispatchPending(timeout: timeout)
        if buffers.freeSlot == nil {
            framesThatWaitedForRelease += 1
            try session.dispatch(timeout: timeout, waitingFor: "wl_buffer.release (every buffer held by the compositor)") {
                buffers.freeSlot != nil
            }
        }
        let slot = buffers.freeSlot!
        paint(buffers.pixels(slot), stride, buffers.slots[slot].frame)
        let bufferID = buffers.commit(slot, frame: frame)
        try session.send(surfaceID, "attach", [.object(bufferID), .int(0), .int(0)])
        let request = session.version(of: surfaceID) >= 4 ? "damage_buffer" : "damage"
        for r in damage ?? [PixelRect(x: 0, y: 0, width: width, height: height)] {
            try session.send(surfaceID, request, [.int(Int32(r.x)), .int(Int32(r.y)), .int(Int32(r.width)), .int(Int32(r.height))])
        }
        pendingFrameCallback = try session.requestCallback(on: surfaceID, "frame")
        beforeCommit()
        try session.send(surfaceID, "commit")
        try session.dispatchPending(timeout: timeout)
        framesDrawn += 1
    }

    /// Waits until the frame callback of the last `draw` is done (at once if
    /// it already is, or if no frame is outstanding).
    public func waitForFrameCallback(timeout: Duration? = nil) throws(HarnessError) {
        guard let callback = pendingFrameCallback else { return }
        try session.dispatch(timeout: timeout ?? self.timeout, waitingFor: "the frame callback") { session.isDone(callback: callback) }
        pendingFrameCallback = nil
    }

    /// Sends wl_display.sync and handles events until its callback is done.
    public func roundtrip(timeout: Duration? = nil) throws(HarnessError) {
        let callback = try session.requestCallback(on: Wire.displayID, "sync")
        try session.dispatch(timeout: timeout ?? self.timeout, waitingFor: "a wl_display.sync roundtrip") { session.isDone(callback: callback) }
    }

    /// Destroys the window and its buffers (best effort) and disconnects.
    /// Calling it again does nothing.
    public func close() {
        guard !closed else { return }
        closed = true
        if session.failure == nil {
            try? buffers?.destroy(session: session)
            for id in [toplevelID, xdgSurfaceID, surfaceID, wmBaseID] where id != 0 { try? session.send(id, "destroy") }
            try? session.dispatchPending(timeout: .seconds(1))
        }
        buffers = nil
        session.close()
    }
}
