import Wayland

/// A guest client's surfaces and viewports, as far as damage mapping needs
/// them: pending and committed buffer, scale, transform and viewport, and
/// the damage since the last commit.
struct SurfaceTracker {
    /// What a commit asks to bring up to date.
    struct Commit {
        var surfaceSerial: UInt64
        var bufferID: UInt32
        var geometry: CommitGeometry
        var damage: [Rect]
    }

    private var surfaces: [UInt32: SurfaceState] = [:]
    /// wp_viewport id -> surface id.
    private var viewports: [UInt32: UInt32] = [:]
    private var nextSerial: UInt64 = 0

    mutating func created(_ sid: UInt32) {
        nextSerial += 1
        var state = SurfaceState()
        state.serial = nextSerial
        surfaces[sid] = state
    }

    /// Removes a surface; returns its serial (its buffers' history goes with it).
    mutating func destroyed(_ sid: UInt32) -> UInt64? { surfaces.removeValue(forKey: sid)?.serial }

    mutating func attach(_ sid: UInt32, _ r: WlSurfaceAttach) { surfaces[sid]?.pendingBuffer = r.buffer }

    mutating func damage(_ sid: UInt32, x: Int32, y: Int32, width: Int32, height: Int32, inBuffer: Bool) {
        surfaces[sid]?.addDamage(Rect(x: Int(x), y: Int(y), width: Int(width), height: Int(height)), buffer: inBuffer)
    }

    mutating func setScale(_ sid: UInt32, _ r: WlSurfaceSetBufferScale) { surfaces[sid]?.pendingScale = Int(r.scale) }

    mutating func setTransform(_ sid: UInt32, _ r: WlSurfaceSetBufferTransform) { surfaces[sid]?.pendingTransform = Int(r.transform) }

    mutating func viewportCreated(_ r: WpViewporterGetViewport) { viewports[r.id] = r.surface }

    mutating func setSource(viewport vid: UInt32, _ r: WpViewportSetSource) {
        guard let sid = viewports[vid] else { return }
        // All -1 unsets the source rectangle.
        let source = r.width.raw == -256 ? nil : (r.x.doubleValue, r.y.doubleValue, r.width.doubleValue, r.height.doubleValue)
        updateViewport(sid) { $0.source = source }
    }

    mutating func setDestination(viewport vid: UInt32, _ r: WpViewportSetDestination) {
        guard let sid = viewports[vid] else { return }
        // -1 unsets the destination size.
        let destination = r.width == -1 ? nil : (Int(r.width), Int(r.height))
        updateViewport(sid) { $0.destination = destination }
    }

    mutating func viewportDestroyed(_ vid: UInt32) {
        if let sid = viewports.removeValue(forKey: vid) { surfaces[sid]?.pendingViewport = ViewportState() }
    }

    private mutating func updateViewport(_ sid: UInt32, _ change: (inout ViewportState) -> Void) {
        guard var state = surfaces[sid] else { return }
        var v = state.pendingViewport ?? state.viewport
        change(&v)
        state.pendingViewport = v
        surfaces[sid] = state
    }

    /// Applies the pending state of surface `sid`; `size` gives a buffer's
    /// size by id. Nil for an unknown surface.
    mutating func commit(_ sid: UInt32, size: (UInt32) -> (width: Int, height: Int)?) -> Commit? {
        guard var state = surfaces[sid] else { return nil }
        let bufferID = state.pendingBuffer ?? state.buffer
        let bufferSize = size(bufferID)
        let (_, damage) = state.commit(bufferSize: bufferSize.map { ($0.width, $0.height) })
        surfaces[sid] = state
        let geometry = CommitGeometry(width: bufferSize?.width ?? 0, height: bufferSize?.height ?? 0, scale: state.scale,
                                      transform: state.transform, viewport: state.viewport)
        return Commit(surfaceSerial: state.serial, bufferID: bufferID, geometry: geometry, damage: damage)
    }
}
