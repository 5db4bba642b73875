import PortholeSystem
import Wayland

/// A real Wayland client that shows a deterministic test pattern in an
/// xdg_toplevel, drawn with wl_shm into two reused (double-buffered) buffers.
///
/// Creating it connects, binds wl_compositor (v4 at most), wl_shm (v1) and
/// xdg_wm_base, creates the toplevel titled "porthole-pattern" and waits for
/// its first configure. Each `drawFrame` repaints only the damaged part of
/// the picture and commits it. All calls block; use it from one thread at a
/// time (it may be handed to another thread between calls).
public final class PatternClient: @unchecked Sendable {
    /// A global the server advertised in wl_registry.global.
    public struct Global: Sendable, Equatable {
        /// The global's numeric name.
        public var name: UInt32
        /// Its interface name, e.g. "wl_compositor".
        public var interface: String
        /// The highest version the server offers.
        public var version: UInt32
    }

    /// The title set on the toplevel.
    public static let title = "porthole-pattern"

    /// Surface width in pixels.
    public private(set) var width: Int
    /// Surface height in pixels.
    public private(set) var height: Int
    /// How long a blocking call waits by default.
    public let timeout: Duration
    /// The globals currently advertised.
    public private(set) var globals: [Global] = []
    /// The wl_shm formats the server announced.
    public private(set) var shmFormats: Set<UInt32> = []
    /// Number of xdg_surface.configure events received (each acked at once).
    public private(set) var configureCount = 0
    /// Whether the compositor sent xdg_toplevel.close.
    public private(set) var closeRequested = false
    /// Number of frames committed so far.
    public private(set) var framesDrawn = 0
    /// How many frames had to wait for a wl_buffer.release first.
    public private(set) var framesThatWaitedForRelease = 0

    let session: ClientSession
    private var registryID: UInt32 = 0
    private var shmID: UInt32 = 0
    private var compositorID: UInt32 = 0
    private var wmBaseID: UInt32 = 0
    private(set) var surfaceID: UInt32 = 0
    private var xdgSurfaceID: UInt32 = 0
    private var toplevelID: UInt32 = 0
    private var buffers: ShmBufferSet?
    private var image: PatternImage
    private var pendingFrameCallback: UInt32?
    private var closed = false
    private let usesSharedMemory: Bool
    private let sharedMemory = SharedMemoryAllocator()

    /// Connects to the Wayland socket at `socketPath` (absolute), sets up a
    /// `width` x `height` toplevel and waits for its first configure. With
    /// `sharedMemory`, its buffers come from porthole_shared_memory_v1 (the
    /// guest proxy's shared region) instead of a memfd of its own.
    public init(socketPath: String, width: Int, height: Int, sharedMemory: Bool = false, timeout: Duration = .seconds(10)) throws(HarnessError) {
        guard width > 0, height > 0, width <= 16384, height <= 16384 else {
            throw .invalidArgument("surface size \(width)x\(height)")
        }
        self.width = width
        self.height = height
        self.timeout = timeout
        image = PatternImage(width: width, height: height)
        usesSharedMemory = sharedMemory
        session = try ClientSession(socketPath: socketPath)
        session.eventHandler = { [unowned self] (event: ClientEvent) throws(HarnessError) in try self.handle(event) }
        try setUp()
    }

    deinit { session.close() }

    private func setUp() throws(HarnessError) {
        registryID = session.newID()
        try session.send(Wire.displayID, "get_registry", [.newID(registryID)])
        try roundtrip()
        compositorID = try bind("wl_compositor", atMost: 4)
        shmID = try bind("wl_shm", atMost: 1)
        wmBaseID = try bind("xdg_wm_base", atMost: ProtocolTables.builtin["xdg_wm_base"]?.version ?? 1)

        surfaceID = session.newID()
        try session.send(compositorID, "create_surface", [.newID(surfaceID)])
        xdgSurfaceID = session.newID()
        try session.send(wmBaseID, "get_xdg_surface", [.newID(xdgSurfaceID), .object(surfaceID)])
        toplevelID = session.newID()
        try session.send(xdgSurfaceID, "get_toplevel", [.newID(toplevelID)])
        try session.send(toplevelID, "set_title", [.text(Self.title)])
        try session.send(toplevelID, "set_app_id", [.text(Self.title)])
        try session.send(surfaceID, "commit")
        try session.dispatch(timeout: timeout, waitingFor: "the first xdg_surface.configure") { configureCount > 0 }
        if usesSharedMemory {
            buffers = try sharedMemory.makeBuffers(session: session, allocatorID: try bind("porthole_shared_memory_v1", atMost: 1),
                                                   shmID: shmID, width: width, height: height, count: 2, timeout: timeout)
        } else {
            buffers = try ShmBufferSet(session: session, shmID: shmID, width: width, height: height)
        }
        try roundtrip()
    }

    /// Binds the advertised global `interface` at the lower of `atMost` and
    /// the advertised version; returns the new object's id.
    private func bind(_ interface: String, atMost: UInt32) throws(HarnessError) -> UInt32 {
        guard let global = globals.first(where: { $0.interface == interface }) else { throw .missingGlobal(interface) }
        let version = max(1, min(atMost, global.version))
        let id = session.newID()
        try session.send(registryID, "bind", [.uint(global.name), .untypedNewID(interface: Array(interface.utf8), version: version, id: id)])
        return id
    }

    private func handle(_ event: ClientEvent) throws(HarnessError) {
        if try sharedMemory.handle(event) { return }
        switch (event.interface.name, event.spec.name) {
        case ("wl_registry", "global"):
            if case .uint(let name) = event.args[0], case .string(let iface?) = event.args[1], case .uint(let version) = event.args[2] {
                globals.append(Global(name: name, interface: String(decoding: iface, as: UTF8.self), version: version))
            }
        case ("wl_registry", "global_remove"):
            if case .uint(let name) = event.args[0] { globals.removeAll { $0.name == name } }
        case ("wl_shm", "format"):
            if case .uint(let format) = event.args[0] { shmFormats.insert(format) }
        case ("xdg_wm_base", "ping"):
            try session.send(event.objectID, "pong", [event.args[0]])
        case ("xdg_surface", "configure"):
            try session.send(event.objectID, "ack_configure", [event.args[0]])
            configureCount += 1
        case ("xdg_toplevel", "close"):
            closeRequested = true
        case ("wl_buffer", "release"):
            guard buffers?.release(event.objectID) == true else {
                throw .protocolViolation("wl_buffer.release for unknown buffer \(event.objectID)")
            }
        default:
            break
        }
    }

    /// Draws frame `n`: repaints `damage` with the pattern of frame `n` (the
    /// rest keeps the previous frame's pixels), writes the picture into a
    /// buffer the compositor does not hold (waiting for a release if both are
    /// held), attaches it, damages the rectangle, asks for a frame callback
    /// and commits. Returns the bytes the whole buffer holds (XRGB8888,
    /// stride width * 4), i.e. what the compositor should now show.
    @discardableResult
    public func drawFrame(_ n: Int, damage: Damage) throws(HarnessError) -> [UInt8] {
        guard !closed, let buffers else { throw .disconnected("the client was closed") }
        try session.dispatchPending(timeout: timeout)
        if buffers.freeSlot == nil {
            framesThatWaitedForRelease += 1
            try session.dispatch(timeout: timeout, waitingFor: "wl_buffer.release (both buffers held by the compositor)") {
                buffers.freeSlot != nil
            }
        }
        let rect = damage.clipped(width: width, height: height)
        image.paint(frame: n, x: rect.x, y: rect.y, width: rect.width, height: rect.height)
        let bufferID = buffers.fill(buffers.freeSlot!, with: image)
        try session.send(surfaceID, "attach", [.object(bufferID), .int(0), .int(0)])
        let box: [WireArg] = [.int(Int32(rect.x)), .int(Int32(rect.y)), .int(Int32(rect.width)), .int(Int32(rect.height))]
        try session.send(surfaceID, session.version(of: surfaceID) >= 4 ? "damage_buffer" : "damage", box)
        pendingFrameCallback = try session.requestCallback(on: surfaceID, "frame")
        try session.send(surfaceID, "commit")
        try session.dispatchPending(timeout: timeout)
        framesDrawn += 1
        return image.bytes
    }

    /// Once the compositor has released both buffers, destroys them and
    /// makes two `width` x `height` buffers at `offsets` of the same pool
    /// (which may overlap the old ones' bytes). The picture starts over
    /// from the background: draw a full frame next.
    public func replaceBuffers(width: Int, height: Int, offsets: [Int]) throws(HarnessError) {
        guard !closed, let buffers else { throw .disconnected("the client was closed") }
        guard !usesSharedMemory else { throw .invalidArgument("replaceBuffers is for a client's own pool") }
        try session.dispatch(timeout: timeout, waitingFor: "wl_buffer.release of both buffers") {
            buffers.slots.allSatisfy { !$0.busy }
        }
        try buffers.replace(session: session, width: width, height: height, offsets: offsets)
        self.width = width
        self.height = height
        image = PatternImage(width: width, height: height)
    }

    /// Waits until the frame callback of the last `drawFrame` is done (at
    /// once if it already is, or if no frame is outstanding).
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
    /// Later calls fail; calling it again does nothing.
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
