/// What the guest proxy knows of one wl_surface: pending state since the
/// last commit and the committed state damage mapping needs.
struct SurfaceState {
    /// Set by attach: the new buffer id (0 = none).
    var pendingBuffer: UInt32?
    var pendingSurfaceDamage: [Rect] = []
    var pendingBufferDamage: [Rect] = []
    var pendingScale: Int?
    var pendingTransform: Int?
    var pendingViewport: ViewportState?

    var buffer: UInt32 = 0
    var scale = 1
    var transform = 0
    var viewport = ViewportState()
    /// Unique within the channel (surface ids are reused; serials are not).
    var serial: UInt64 = 0

    /// Most damage rectangles kept per commit; beyond it the whole buffer counts.
    static let maxRects = 256

    mutating func addDamage(_ r: Rect, buffer: Bool) {
        if buffer {
            if pendingBufferDamage.count < Self.maxRects { pendingBufferDamage.append(r) }
            else { pendingBufferDamage = [Rect(x: 0, y: 0, width: Int(Int32.max), height: Int(Int32.max))] }
        } else {
            if pendingSurfaceDamage.count < Self.maxRects { pendingSurfaceDamage.append(r) }
            else { pendingSurfaceDamage = [Rect(x: Int(Int32.min) / 2, y: Int(Int32.min) / 2, width: Int(Int32.max), height: Int(Int32.max))] }
        }
    }

    /// Applies pending state and returns the damaged buffer rectangles
    /// (already clipped) for a buffer of the given size. A new attachment
    /// reports its damage like any commit: what the rest of a newly attached
    /// buffer holds is `DamageHistory`'s question.
    mutating func commit(bufferSize: (Int, Int)?) -> (newAttachment: Bool, rects: [Rect]) {
        let attached = pendingBuffer != nil
        if let b = pendingBuffer { buffer = b }
        if let s = pendingScale { scale = s }
        if let t = pendingTransform { transform = t }
        if let v = pendingViewport { viewport = v }
        defer {
            pendingBuffer = nil
            pendingScale = nil
            pendingTransform = nil
            pendingViewport = nil
            pendingSurfaceDamage.removeAll(keepingCapacity: true)
            pendingBufferDamage.removeAll(keepingCapacity: true)
        }
        guard let (w, h) = bufferSize else { return (attached, []) }
        let whole = Rect(x: 0, y: 0, width: w, height: h)
        var rects: [Rect] = []
        for r in pendingBufferDamage {
            let c = r.clipped(to: whole)
            if !c.isEmpty { rects.append(c) }
        }
        for r in pendingSurfaceDamage {
            let c = DamageMapper.bufferRect(surface: r, scale: scale, transform: transform, viewport: viewport, bufferWidth: w, bufferHeight: h)
            if !c.isEmpty { rects.append(c) }
        }
        return (attached, rects)
    }
}
