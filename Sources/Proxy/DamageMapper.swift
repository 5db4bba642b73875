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
