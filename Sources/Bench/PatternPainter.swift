import Harness

/// Paints `PatternClient.pattern` (the harness's test picture, whose every
/// pixel follows from the frame number) fast enough for benchmarks.
///
/// The pattern's red channel depends on x and the frame, green on y and the
/// frame, blue on x / 16 + y / 16 and the frame. Each channel is a sum taken
/// mod 256, so one row is `((column[x] + k) & 0x00FF00FF) | g | alpha`, with a
/// per-width table `column` holding red in byte 2 and the x part of blue in
/// byte 0: the carries out of bytes 0 and 2 land in bytes 1 and 3 and are
/// masked off. That loop is a load, an add, an and and an or per pixel.
public struct PatternPainter: Sendable {
    /// Row length in pixels.
    public let width: Int
    private let column: [UInt32]

    /// A painter for rows of `width` pixels.
    public init(width: Int) {
        precondition(width > 0)
        self.width = width
        column = (0..<width).map { x in
            let xx = UInt32(truncatingIfNeeded: x)
            return ((xx &* 2) & 0xFF) << 16 | ((xx / 16) &* 40) & 0xFF
        }
    }

    /// The pixel of frame `frame` at (`x`, `y`): the same value as `PatternClient.pattern`.
    @inline(__always)
    public static func pixel(frame: Int, x: Int, y: Int) -> UInt32 { PatternClient.pattern(frame: frame, x: x, y: y) }

    /// Writes pixels `x0..<x1` of row `y` of frame `frame` to `row[x0..<x1]`
    /// (`row` points at pixel 0 of the row).
    @inline(__always)
    public func paintRow(frame: Int, y: Int, from x0: Int, to x1: Int, into row: UnsafeMutablePointer<UInt32>) {
        guard x0 < x1 else { return }
        precondition(x0 >= 0 && x1 <= width)
        let f = UInt32(truncatingIfNeeded: frame)
        let yy = UInt32(truncatingIfNeeded: y)
        let green = ((yy &* 2 &+ f &* 97) & 0xFF) << 8 | 0xFF00_0000
        let k = ((f &* 41) & 0xFF) << 16 | (((yy / 16) &* 40 &+ f &* 59) & 0xFF)
        column.withUnsafeBufferPointer { col in
            let c = col.baseAddress!
            for x in x0..<x1 {
                row[x] = ((c[x] &+ k) & 0x00FF_00FF) | green
            }
        }
    }

    /// Paints `rect` of frame `frame` into an XRGB8888 image at `base` with
    /// `stride` bytes per row. The rectangle must lie inside the image.
    public func paint(frame: Int, rect: PixelRect, into base: UnsafeMutableRawPointer, stride: Int) {
        for y in rect.y..<(rect.y + rect.height) {
            let row = (base + y * stride).assumingMemoryBound(to: UInt32.self)
            paintRow(frame: frame, y: y, from: rect.x, to: rect.x + rect.width, into: row)
        }
    }
}
