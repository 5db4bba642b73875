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
    public var width: Int { window.width }
    /// Surface height in pixels.
    public var height: Int { window.height }
    /// Bytes per buffer row (XRGB8888, no padding).
    public var stride: Int { width * 4 }
    /// How long a blocking call waits by default.
    public var timeout: Duration { window.timeout }
    /// Number of frames committed so far.
    public var framesDrawn: Int { window.framesCommitted }
    /// How many frames had to wait for a wl_buffer.release first.
    public var framesThatWaitedForRelease: Int { window.framesThatWaitedForRelease }

    private let window: ShmWindow

    /// Connects to the Wayland socket at `socketPath` (absolute), creates a
    /// `width` x `height` toplevel titled `title` with `appID`, waits for its
    /// first configure and creates `bufferCount` buffers in one pool.
    /// With `sharedMemory`, the buffers come from porthole_shared_memory_v1
    /// (the guest proxy's shared region) instead of a memfd of its own.
    public init(socketPath: String, width: Int, height: Int, appID: String, title: String = "porthole-bench",
                bufferCount: Int = 2, sharedMemory: Bool = false, timeout: Duration = .seconds(30)) throws(HarnessError) {
        window = try ShmWindow(socketPath: socketPath, width: width, height: height, title: title, appID: appID,
                               bufferCount: bufferCount, sharedMemory: sharedMemory, timeout: timeout)
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
        let (buffers, slot) = try window.freeBuffer()
        paint(buffers.pixels(slot), stride, buffers.slots[slot].frame)
        let bufferID = buffers.commit(slot, frame: frame)
        try window.commit(bufferID, damage: damage ?? [PixelRect(x: 0, y: 0, width: width, height: height)], beforeCommit: beforeCommit)
    }

    /// Waits until the frame callback of the last `draw` is done (at once if
    /// it already is, or if no frame is outstanding).
    public func waitForFrameCallback(timeout: Duration? = nil) throws(HarnessError) {
        try window.waitForFrameCallback(timeout: timeout)
    }

    /// Sends wl_display.sync and handles events until its callback is done.
    public func roundtrip(timeout: Duration? = nil) throws(HarnessError) { try window.roundtrip(timeout: timeout) }

    /// Destroys the window and its buffers (best effort) and disconnects.
    /// Calling it again does nothing.
    public func close() { window.close() }
}
