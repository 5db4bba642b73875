/// The picture `porthole share publish --pattern` shows: a fixed background
/// with a band of 16 rows that moves down one band per frame in a colour of
/// its own, so each frame changes only two bands (and the stamp's row):
/// what a camera-like producer damages, not the whole buffer.
public struct BandPattern: Sendable {
    public let width: Int
    public let height: Int
    public var stride: Int { width * 4 }
    /// Rows of the band.
    public static let bandRows = 16

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// A damaged rectangle, in pixels.
    public struct Rect: Equatable, Sendable {
        public var x, y, width, height: Int
    }

    /// The background pixel at (x, y) (XRGB8888).
    static func background(x: Int, y: Int) -> UInt32 { 0xFF00_0040 | UInt32(x & 0xFF) << 16 | UInt32(y & 0xFF) << 8 }

    /// The band's colour in frame `n`.
    static func band(_ n: UInt32) -> UInt32 { 0xFF00_0000 | (n &* 2_654_435_761) & 0x00FF_FFFF }

    private func bandTop(_ n: UInt32) -> Int { Int(n) * Self.bandRows % max(height, 1) }

    /// Paints the whole background into `base`.
    public func paintBackground(_ base: UnsafeMutableRawPointer) {
        for y in 0..<height { paintRows(base, y..<(y + 1)) { x in Self.background(x: x, y: y) } }
    }

    /// Paints frame `n` over frame `n - 1` and returns what changed: the old
    /// band (back to the background), the new band, and the stamp's row.
    public func paintFrame(_ base: UnsafeMutableRawPointer, _ n: UInt32) -> [Rect] {
        var rects: [Rect] = []
        if n > 1 {
            let old = bandTop(n - 1)
            let rows = old..<min(old + Self.bandRows, height)
            for y in rows { paintRows(base, y..<(y + 1)) { x in Self.background(x: x, y: y) } }
            rects.append(Rect(x: 0, y: old, width: width, height: rows.count))
        }
        let top = bandTop(n)
        let rows = top..<min(top + Self.bandRows, height)
        let colour = Self.band(n)
        paintRows(base, rows) { _ in colour }
        rects.append(Rect(x: 0, y: top, width: width, height: rows.count))
        rects.append(Rect(x: 0, y: 0, width: min(width, (FrameStamp.bytes + 3) / 4), height: 1))
        return rects
    }

    private func paintRows(_ base: UnsafeMutableRawPointer, _ rows: Range<Int>, _ pixel: (Int) -> UInt32) {
        for y in rows {
            let row = (base + y * stride).assumingMemoryBound(to: UInt32.self)
            for x in 0..<width { row[x] = pixel(x).littleEndian }
        }
    }
}
