import CLibPipeWire

/// Writes a guest update's damage as PipeWire's VideoDamage metadata: an
/// array of regions that ends at the first one of zero size.
enum DamageMeta {
    /// `damage`: x, y, width, height quadruples in pixels (empty: the whole
    /// frame). Each rectangle is clipped to the frame; more than fit become
    /// one region covering the frame.
    static func write(_ damage: [Int32], of format: SourceFormat, to regions: UnsafeMutableBufferPointer<spa_meta_region>) {
        guard !regions.isEmpty else { return }
        let rects = clipped(damage, width: format.width, height: format.height)
        var n = 0
        if rects.isEmpty || rects.count > regions.count {
            regions[0] = region(0, 0, format.width, format.height)
            n = 1
        } else {
            for r in rects {
                regions[n] = region(r.x, r.y, r.width, r.height)
                n += 1
            }
        }
        if n < regions.count { regions[n] = spa_meta_region() }
    }

    /// The rectangles of `damage` inside a width x height frame; empty when
    /// `damage` is empty (the whole frame) or none of it is inside.
    static func clipped(_ damage: [Int32], width: Int, height: Int) -> [(x: Int, y: Int, width: Int, height: Int)] {
        var out: [(x: Int, y: Int, width: Int, height: Int)] = []
        var i = 0
        while i + 3 < damage.count {
            let x0 = max(0, Int(damage[i])), y0 = max(0, Int(damage[i + 1]))
            let x1 = min(width, Int(damage[i]) + Int(damage[i + 2])), y1 = min(height, Int(damage[i + 1]) + Int(damage[i + 3]))
            if x1 > x0 && y1 > y0 { out.append((x0, y0, x1 - x0, y1 - y0)) }
            i += 4
        }
        return out
    }

    private static func region(_ x: Int, _ y: Int, _ w: Int, _ h: Int) -> spa_meta_region {
        spa_meta_region(region: spa_region(position: spa_point(x: Int32(x), y: Int32(y)), size: spa_rectangle(width: UInt32(w), height: UInt32(h))))
    }
}
