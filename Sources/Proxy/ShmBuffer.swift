import Link
import Wayland

/// A wl_buffer a guest client made from one of its pools.
struct ShmBuffer {
    let pool: ClientPool
    /// The region chunk holding its copy (nil for a stream or cooperative pool).
    var chunk: RegionChunk?
    /// Its registration with the host (region pools).
    var registration: UInt32?
    var offset: Int
    var width: Int
    var height: Int
    var stride: Int
    var format: UInt32
    /// Its rows are stored bottom first (a dma-buf made with linux-dmabuf's
    /// y_invert flag): the host's copy, an ordinary wl_shm buffer, gets them
    /// top first, so row y of the copy is read from row height-1-y.
    var yInverted = false

    /// Whether the two buffers' pool bytes overlap (same pool assumed).
    func overlaps(_ o: ShmBuffer) -> Bool {
        offset < o.offset + o.stride * o.height && o.offset < offset + stride * height
    }

    /// Its bytes in the pool.
    var span: Range<Int> { offset..<(offset + stride * height) }

    /// How far from a byte of the host's copy (a pool offset in the span of
    /// `start`) the client's byte is: 0, or for a y-inverted buffer the
    /// distance to the mirrored row. Spans of such a buffer are one row each.
    func sourceShift(at start: Int) -> Int { rows.shift(at: start) }

    /// Its rows' order, as a value (`RowFlip`).
    var rows: RowFlip { RowFlip(inverted: yInverted, offset: offset, stride: stride, height: height) }

    /// Calls `body(start, end)` with the pool byte spans `rects` cover:
    /// whole rows when a rectangle spans the stride (and the buffer is not
    /// y-inverted), else a span per row.
    func forEachDamagedSpan(_ rects: [Rect], _ body: (Int, Int) -> Void) {
        let bpp = bytesPerPixel(shmFormat: format)
        for r in rects {
            let (x0, rowBytes, wholeRows) = rowExtent(of: r, bytesPerPixel: bpp)
            if wholeRows {
                let start = offset + r.y * stride
                body(start, start + r.height * stride)
            } else {
                for row in r.y..<(r.y + r.height) {
                    let start = offset + row * stride + x0
                    body(start, start + min(rowBytes, stride - x0))
                }
            }
        }
    }

    /// How many spans `forEachDamagedSpan(rects)` gives (to size a list once).
    func damagedSpanCount(_ rects: [Rect]) -> Int {
        let bpp = bytesPerPixel(shmFormat: format)
        return rects.reduce(0) { $0 + (rowExtent(of: $1, bytesPerPixel: bpp).wholeRows ? 1 : max(0, $1.height)) }
    }

    /// Where `r`'s bytes start in a row and how many there are (a format of
    /// unknown size: whole rows), and whether it is one span of whole rows
    /// (from the row's start over the stride, unless rows are stored bottom
    /// first).
    private func rowExtent(of r: Rect, bytesPerPixel bpp: Int?) -> (x0: Int, count: Int, wholeRows: Bool) {
        let x0 = bpp.map { r.x * $0 } ?? 0
        let count = bpp.map { r.width * $0 } ?? stride
        return (x0, count, x0 == 0 && count >= stride && !yInverted)
    }
}
