import PortholeSystem
import Wayland

/// A global the server advertised in wl_registry.global.
public struct WaylandGlobal: Sendable, Equatable {
    /// The global's numeric name.
    public var name: UInt32
    /// Its interface name, e.g. "wl_compositor".
    public var interface: String
    /// The highest version the server offers.
    public var version: UInt32
}

/// The window the harness clients draw into: a connection, its registry,
/// an xdg_toplevel, and a set of wl_shm buffers (from a memfd of its own or
/// from porthole_shared_memory_v1). It answers pings, acks configures,
/// tracks buffer releases and frame callbacks; what to paint is the owner's
/// business (`PatternClient` keeps a picture, `FrameClient` paints in place).
final class ShmWindow {
    let session: ClientSession
    private(set) var width: Int
    private(set) var height: Int
    /// How long a blocking call waits by default.
    let timeout: Duration
    /// The globals currently advertised.
    private(set) var globals: [WaylandGlobal] = []
    /// The wl_shm formats the server announced.
    private(set) var shmFormats: Set<UInt32> = []
    /// Number of xdg_surface.configure events received (each acked at once).
    private(set) var configureCount = 0
    /// Whether the compositor sent xdg_toplevel.close.
    private(set) var closeRequested = false
    /// Number of frames committed so far.
    private(set) var framesCommitted = 0
    /// How many frames had to wait for a wl_buffer.release first.
    private(set) var framesThatWaitedForRelease = 0
    /// The buffers (nil once closed).
    private(set) var buffers: ShmBufferSet?
    private(set) var surfaceID: UInt32 = 0
    private var registryID: UInt32 = 0
    private var wmBaseID: UInt32 = 0
    private var xdgSurfaceID: UInt32 = 0
    private var toplevelID: UInt32 = 0
    private var pendingFrameCallback: UInt32?
    private let sharedAllocator = SharedMemoryAllocator()
    private let usesSharedMemory: Bool
    private(set) var closed = false

    /// Connects to `socketPath` (absolute), binds wl_compositor (v4 at most),
    /// wl_shm and xdg_wm_base, creates the toplevel, waits for its first
    /// configure and creates `bufferCount` buffers of the surface size.
    init(socketPath: String, width: Int, height: Int, title: String, appID: String,
         bufferCount: Int, sharedMemory: Bool, timeout: Duration) throws(HarnessError) {
        guard width > 0, height > 0, width <= 16384, height <= 16384 else {
            throw .invalidArgument("surface size \(width)x\(height)")
        }
        guard bufferCount >= 1 && bufferCount <= 4 else { throw .invalidArgument("\(bufferCount) buffers") }
        self.width = width
        self.height = height
        self.timeout = timeout
        usesSharedMemory = sharedMemory
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
        try session.dispatch(timeout: timeout, waitingFor: "the first xdg_surface.configure") { configureCount > 0 }
        if sharedMemory {
            buffers = try sharedAllocator.makeBuffers(session: session, allocatorID: try bind("porthole_shared_memory_v1", atMost: 1),
                                                      shmID: shmID, width: width, height: height, count: bufferCount, timeout: timeout)
        } else {
            buffers = try ShmBufferSet(session: session, shmID: shmID, width: width, height: height, count: bufferCount)
        }
        try roundtrip()
    }

    deinit { session.close() }

    /// Binds the advertised global `interface` at the lower of `atMost` and
    /// the advertised version; returns the new object's id.
    func bind(_ interface: String, atMost: UInt32) throws(HarnessError) -> UInt32 {
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
                globals.append(WaylandGlobal(name: name, interface: String(decoding: iface, as: UTF8.self), version: version))
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

    /// Handles what has arrived, then returns a buffer slot the compositor
    /// does not hold, waiting for a release if it holds them all.
    func freeBuffer() throws(HarnessError) -> (ShmBufferSet, Int) {
        guard !closed, let buffers else { throw .disconnected("the client was closed") }
        try session.dispatchPending(timeout: timeout)
        if buffers.freeSlot == nil {
            framesThatWaitedForRelease += 1
            try session.dispatch(timeout: timeout, waitingFor: "wl_buffer.release (every buffer held by the compositor)") {
                buffers.freeSlot != nil
            }
        }
        return (buffers, buffers.freeSlot!)
    }

    /// Once the compositor has released every buffer, destroys them and makes
    /// `width` x `height` buffers at `offsets` of the same pool (which may
    /// lie over the old ones' bytes).
    func replaceBuffers(width: Int, height: Int, offsets: [Int]) throws(HarnessError) {
        guard !closed, let buffers else { throw .disconnected("the client was closed") }
        guard !usesSharedMemory else { throw .invalidArgument("replaceBuffers is for a client's own pool") }
        try session.dispatch(timeout: timeout, waitingFor: "wl_buffer.release of every buffer") {
            buffers.slots.allSatisfy { !$0.busy }
        }
        try buffers.replace(session: session, width: width, height: height, offsets: offsets)
        self.width = width
        self.height = height
    }

    /// Attaches `bufferID`, damages `damage` in buffer coordinates, asks for
    /// a frame callback, calls `beforeCommit`, commits and sends it all.
    func commit(_ bufferID: UInt32, damage: [PixelRect], beforeCommit: () -> Void = {}) throws(HarnessError) {
        try session.send(surfaceID, "attach", [.object(bufferID), .int(0), .int(0)])
        let request = session.version(of: surfaceID) >= 4 ? "damage_buffer" : "damage"
        for r in damage {
            try session.send(surfaceID, request, [.int(Int32(r.x)), .int(Int32(r.y)), .int(Int32(r.width)), .int(Int32(r.height))])
        }
        pendingFrameCallback = try session.requestCallback(on: surfaceID, "frame")
        beforeCommit()
        try session.send(surfaceID, "commit")
        try session.dispatchPending(timeout: timeout)
        framesCommitted += 1
    }

    /// Waits until the frame callback of the last commit is done (at once if
    /// it already is, or if no frame is outstanding).
    func waitForFrameCallback(timeout: Duration? = nil) throws(HarnessError) {
        guard let callback = pendingFrameCallback else { return }
        try session.dispatch(timeout: timeout ?? self.timeout, waitingFor: "the frame callback") { session.isDone(callback: callback) }
        pendingFrameCallback = nil
    }

    /// Sends wl_display.sync and handles events until its callback is done.
    func roundtrip(timeout: Duration? = nil) throws(HarnessError) {
        let callback = try session.requestCallback(on: Wire.displayID, "sync")
        try session.dispatch(timeout: timeout ?? self.timeout, waitingFor: "a wl_display.sync roundtrip") { session.isDone(callback: callback) }
    }

    /// Destroys the window and its buffers (best effort) and disconnects.
    /// Calling it again does nothing.
    func close() {
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
