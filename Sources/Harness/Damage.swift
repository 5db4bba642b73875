/// The part of a surface a frame changes, in buffer pixels.
public enum Damage: Sendable, Equatable {
    /// The whole surface.
    case full
    /// A rectangle; it is clipped to the surface.
    case rect(x: Int, y: Int, width: Int, height: Int)

    /// The damaged rectangle clipped to a `width` x `height` surface, as
    /// (x, y, width, height); the size is zero when nothing is left.
    public func clipped(width: Int, height: Int) -> (x: Int, y: Int, width: Int, height: Int) {
        switch self {
        case .full:
            return (0, 0, width, height)
        case .rect(let x, let y, let w, let h):
            let x0 = min(max(x, 0), width), y0 = min(max(y, 0), height)
            let x1 = min(max(x + max(w, 0), x0), width), y1 = min(max(y + max(h, 0), y0), height)
            return (x0, y0, x1 - x0, y1 - y0)
        }
    }
}
