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
    public typealias Global = WaylandGlobal

    /// The title set on the toplevel.
    public static let title = "porthole-pattern"

    /// Surface width in pixels.
    public var width: Int { window.width }
    /// Surface height in pixels.
    public var height: Int { window.height }
    /// How long a blocking call waits by default.
    public var timeout: Duration { window.timeout }
    /// The globals currently advertised.
    public var globals: [Global] { window.globals }
    /// The wl_shm formats the server announced.
    public var shmFormats: Set<UInt32> { window.shmFormats }
    /// Number of xdg_surface.configure events received (each acked at once).
    public var configureCount: Int { window.configureCount }
    /// Whether the compositor sent xdg_toplevel.close.
    public var closeRequested: Bool { window.closeRequested }
    /// Number of frames committed so far.
    public var framesDrawn: Int { window.framesCommitted }
    /// How many frames had to wait for a wl_buffer.release first.
    public var framesThatWaitedForRelease: Int { window.framesThatWaitedForRelease }

    private let window: ShmWindow
    private var image: PatternImage
    var session: ClientSession { window.session }
    var surfaceID: UInt32 { window.surfaceID }

    /// Connects to the Wayland socket at `socketPath` (absolute), sets up a
    /// `width` x `height` toplevel and waits for its first configure. With
    /// `sharedMemory`, its buffers come from porthole_shared_memory_v1 (the
    /// guest proxy's shared region) instead of a memfd of its own.
    public init(socketPath: String, width: Int, height: Int, sharedMemory: Bool = false, timeout: Duration = .seconds(10)) throws(HarnessError) {
        window = try ShmWindow(socketPath: socketPath, width: width, height: height, title: Self.title, appID: Self.title,
                               bufferCount: 2, sharedMemory: sharedMemory, timeout: timeout)
        image = PatternImage(width: width, height: height)
    }

    /// Draws frame `n`: repaints `damage` with the pattern of frame `n` (the
    /// rest keeps the previous frame's pixels), writes the picture into a
    /// buffer the compositor does not hold (waiting for a release if both are
    /// held), attaches it, damages the rectangle, asks for a frame callback
    /// and commits. Returns the bytes the whole buffer holds (XRGB8888,
    /// stride width * 4), i.e. what the compositor should now show.
    @discardableResult
    public func drawFrame(_ n: Int, damage: Damage) throws(HarnessError) -> [UInt8] {
        let (buffers, slot) = try window.freeBuffer()
        let rect = damage.clipped(width: width, height: height)
        image.paint(frame: n, x: rect.x, y: rect.y, width: rect.width, height: rect.height)
        let bufferID = buffers.fill(slot, with: image)
        try window.commit(bufferID, damage: [PixelRect(x: rect.x, y: rect.y, width: rect.width, height: rect.height)])
        return image.bytes
    }

    /// Once the compositor has released both buffers, destroys them and
    /// makes two `width` x `height` buffers at `offsets` of the same pool
    /// (which may overlap the old ones' bytes). The picture starts over
    /// from the background: draw a full frame next.
    public func replaceBuffers(width: Int, height: Int, offsets: [Int]) throws(HarnessError) {
        try window.replaceBuffers(width: width, height: height, offsets: offsets)
        image = PatternImage(width: width, height: height)
    }

    /// Waits until the frame callback of the last `drawFrame` is done (at
    /// once if it already is, or if no frame is outstanding).
    public func waitForFrameCallback(timeout: Duration? = nil) throws(HarnessError) {
        try window.waitForFrameCallback(timeout: timeout)
    }

    /// Sends wl_display.sync and handles events until its callback is done.
    public func roundtrip(timeout: Duration? = nil) throws(HarnessError) { try window.roundtrip(timeout: timeout) }

    /// Destroys the window and its buffers (best effort) and disconnects.
    /// Later calls fail; calling it again does nothing.
    public func close() { window.close() }
}
