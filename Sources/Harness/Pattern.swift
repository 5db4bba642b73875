extension PatternClient {
    /// The test picture: the XRGB8888 pixel (0xAARRGGBB with alpha 0xFF) of frame `frame` at
    /// (`x`, `y`). Red follows x, green follows y, blue makes 16-pixel tiles;
    /// every channel shifts by a different step per frame, so consecutive
    /// frames differ at every pixel and the picture is colourful.
    public static func pattern(frame: Int, x: Int, y: Int) -> UInt32 {
        let f = UInt32(truncatingIfNeeded: frame)
        let xx = UInt32(truncatingIfNeeded: x), yy = UInt32(truncatingIfNeeded: y)
        let r = (xx &* 2 &+ f &* 41) & 0xFF
        let g = (yy &* 2 &+ f &* 97) & 0xFF
        let b = ((xx / 16 &+ yy / 16) &* 40 &+ f &* 59) & 0xFF
        return 0xFF00_0000 | r << 16 | g << 8 | b
    }

    /// The colour every pixel has before the first frame: opaque black.
    public static let background: UInt32 = 0xFF00_0000
}

/// The client's idea of what the surface shows: one XRGB8888 pixel per
/// entry, row by row (stride = width * 4 bytes).
struct PatternImage {
    let width: Int
    let height: Int
    private(set) var pixels: [UInt32]

    /// A picture filled with `PatternClient.background`.
    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt32](repeating: PatternClient.background, count: width * height)
    }

    /// Repaints the rectangle with frame `frame`'s pattern; the rest stays.
    mutating func paint(frame: Int, x: Int, y: Int, width w: Int, height h: Int) {
        for row in y..<(y + h) {
            let base = row * width
            for column in x..<(x + w) { pixels[base + column] = PatternClient.pattern(frame: frame, x: column, y: row) }
        }
    }

    /// The picture as bytes in wl_shm order (little-endian words).
    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: pixels.count * 4)
        out.withUnsafeMutableBytes { copy(into: $0.baseAddress!) }
        return out
    }

    /// Writes the picture, in wl_shm byte order, to `destination` (width * height * 4 bytes).
    func copy(into destination: UnsafeMutableRawPointer) {
        pixels.withUnsafeBytes { src in
            if UInt32(1).littleEndian == 1 {
                destination.copyMemory(from: src.baseAddress!, byteCount: src.count)
            } else {
                for (i, p) in pixels.enumerated() { destination.storeBytes(of: p.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
            }
        }
    }
}
