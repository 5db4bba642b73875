import Wayland

/// A buffer of a guest producer as the guest proxy replicates it: the pool
/// mirroring the producer's memory file, where the buffer lies in it, the
/// properties that say how damage maps to bytes, and the damage since the
/// last present.
final class ReplicatedBuffer {
    let pool: StreamPool
    let offset: Int
    let size: Int
    var published = false
    /// Set by a producer reset: no more syncs.
    var inert = false
    private var width: Int?
    private var height: Int?
    private var stride: Int?
    private var format: UInt32?
    private var damage: [Rect] = []
    private var wholeDamaged = false

    /// More rectangles per present than this count as the whole buffer.
    static let maxRects = 256

    init(pool: StreamPool, offset: Int, size: Int) {
        self.pool = pool
        self.offset = offset
        self.size = size
    }

    /// Reads the properties that describe the pixels; others mean nothing here.
    func property(_ name: String, _ value: String) {
        switch name {
        case "width": width = Int(value)
        case "height": height = Int(value)
        case "stride": stride = Int(value)
        case "format": format = shmFormat(drmName: value)
        default: break
        }
    }

    /// The buffer as the pool syncs it: the image the properties describe
    /// when they fit the buffer, else one row of `size` bytes of a format of
    /// unknown pixel size (any damage then covers all of it).
    var image: ShmBuffer {
        if let w = width, let h = height, let s = stride, let f = format, let bpp = bytesPerPixel(shmFormat: f),
           w > 0, h > 0, s >= w * bpp, s.multipliedReportingOverflow(by: h).partialValue <= size, !s.multipliedReportingOverflow(by: h).overflow {
            return ShmBuffer(pool: pool, offset: offset, width: w, height: h, stride: s, format: f)
        }
        return ShmBuffer(pool: pool, offset: offset, width: 1, height: 1, stride: size, format: .max)
    }

    /// A damaged rectangle, clipped to the image.
    func damage(x: Int32, y: Int32, width w: Int32, height h: Int32) {
        guard !wholeDamaged, w > 0, h > 0 else { return }
        let b = image
        // Without a described image, any damage is all of it.
        guard b.format != .max else { wholeDamaged = true; return }
        let r = Rect(x: Int(x), y: Int(y), width: Int(w), height: Int(h)).clipped(to: Rect(x: 0, y: 0, width: b.width, height: b.height))
        guard !r.isEmpty else { return }
        damage.append(r)
        if damage.count > Self.maxRects { wholeDamaged = true }
    }

    /// The rectangles to sync for a present (the whole image at publish);
    /// the damage starts over.
    func takeDamage(whole: Bool = false) -> [Rect] {
        defer {
            damage.removeAll()
            wholeDamaged = false
        }
        let b = image
        if whole || wholeDamaged { return [Rect(x: 0, y: 0, width: b.width, height: b.height)] }
        return damage
    }
}
