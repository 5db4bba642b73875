/// A rectangle in integer coordinates.
struct Rect: Equatable {
    var x: Int
    var y: Int
    var width: Int
    var height: Int

    var isEmpty: Bool { width <= 0 || height <= 0 }

    /// The part of `self` inside `bounds`.
    func clipped(to bounds: Rect) -> Rect {
        let x0 = max(x, bounds.x), y0 = max(y, bounds.y)
        let x1 = min(x + width, bounds.x + bounds.width), y1 = min(y + height, bounds.y + bounds.height)
        return Rect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }
}

/// wp_viewport state of a surface (already committed).
struct ViewportState: Equatable {
    /// Source rectangle in buffer coordinates after transform and scale, or nil.
    var source: (x: Double, y: Double, width: Double, height: Double)?
    /// Destination size in surface coordinates, or nil.
    var destination: (width: Int, height: Int)?

    static func == (a: ViewportState, b: ViewportState) -> Bool {
        a.source?.x == b.source?.x && a.source?.y == b.source?.y && a.source?.width == b.source?.width
            && a.source?.height == b.source?.height && a.destination?.width == b.destination?.width
            && a.destination?.height == b.destination?.height
    }
}

/// Maps surface-coordinate damage into buffer coordinates.
enum DamageMapper {
    /// The buffer rectangle a surface-damage rectangle may have touched.
    /// Rounds outward; for rotated or flipped buffers it answers the whole
    /// buffer (the byte diff still limits what crosses the link).
    static func bufferRect(surface r: Rect, scale: Int, transform: Int, viewport: ViewportState, bufferWidth: Int, bufferHeight: Int) -> Rect {
        let whole = Rect(x: 0, y: 0, width: bufferWidth, height: bufferHeight)
        guard transform == 0, scale >= 1 else { return whole }
        var x0 = Double(r.x), y0 = Double(r.y)
        var x1 = Double(r.x) + Double(r.width), y1 = Double(r.y) + Double(r.height)
        // Surface -> viewport source space (post-transform, post-scale buffer units).
        let logicalW = Double(bufferWidth) / Double(scale), logicalH = Double(bufferHeight) / Double(scale)
        let src = viewport.source ?? (0, 0, logicalW, logicalH)
        let dst: (Double, Double)
        if let d = viewport.destination { dst = (Double(d.width), Double(d.height)) }
        else if let s = viewport.source { dst = (s.width.rounded(), s.height.rounded()) }
        else { dst = (logicalW, logicalH) }
        if dst.0 > 0 && dst.1 > 0 && (viewport.source != nil || viewport.destination != nil) {
            let sx = src.width / dst.0, sy = src.height / dst.1
            x0 = src.x + x0 * sx; x1 = src.x + x1 * sx
            y0 = src.y + y0 * sy; y1 = src.y + y1 * sy
        }
        let s = Double(scale)
        let out = Rect(x: Int((x0 * s).rounded(.down)) - 1, y: Int((y0 * s).rounded(.down)) - 1,
                       width: 0, height: 0)
        let right = Int((x1 * s).rounded(.up)) + 1, bottom = Int((y1 * s).rounded(.up)) + 1
        return Rect(x: out.x, y: out.y, width: right - out.x, height: bottom - out.y).clipped(to: whole)
    }
}

/// Bytes per pixel of a wl_shm format, or nil when the proxy does not know it
/// (then whole rows are considered).
func bytesPerPixel(shmFormat f: UInt32) -> Int? {
    func fourcc(_ s: String) -> UInt32 {
        let b = Array(s.utf8)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
    switch f {
    case 0, 1: return 4 // argb8888, xrgb8888
    case fourcc("AB24"), fourcc("XB24"), fourcc("RA24"), fourcc("RX24"), fourcc("BA24"), fourcc("BX24"),
         fourcc("AR30"), fourcc("XR30"), fourcc("AB30"), fourcc("XB30"): return 4
    case fourcc("RG16"), fourcc("BG16"), fourcc("AR15"), fourcc("XR15"), fourcc("AR12"), fourcc("XR12"): return 2
    case fourcc("RG24"), fourcc("BG24"): return 3
    case fourcc("AR4H"), fourcc("XR4H"), fourcc("AB4H"), fourcc("XB4H"): return 8
    case fourcc("R8  "), fourcc("C8  "): return 1
    default: return nil
    }
}
