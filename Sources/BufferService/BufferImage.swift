import Wayland

/// How a buffer's bytes form a picture, as its (guest-given) properties say:
/// `width` x `height` pixels, rows `stride` bytes apart, `format` a DRM
/// name (or, for the Wayland proxy's buffers, a wl_shm code). Used to turn
/// damage rectangles into the byte spans a host copy must take. Nothing
/// here is trusted: a description that does not fit the buffer is no
/// description, and then every span is the whole buffer.
struct BufferImage {
    let width: Int
    let height: Int
    let stride: Int
    /// Nil for a format of unknown pixel size: damaged rows are taken whole.
    let bytesPerPixel: Int?

    /// The picture `properties` describe, if it fits in `size` bytes.
    init?(properties: [(name: String, value: String)], size: Int) {
        func value(_ name: String) -> String? { properties.first { $0.name == name }?.value }
        guard let w = value("width").flatMap({ Int($0) }), let h = value("height").flatMap({ Int($0) }),
              let s = value("stride").flatMap({ Int($0) }), w > 0, h > 0, s > 0 else { return nil }
        let (bytes, overflow) = s.multipliedReportingOverflow(by: h)
        guard !overflow, bytes <= size else { return nil }
        let bpp = value("format").flatMap { name in shmFormat(drmName: name) ?? UInt32(name) }.flatMap { Wayland.bytesPerPixel(shmFormat: $0) }
        width = w
        height = h
        stride = s
        bytesPerPixel = bpp.flatMap { w.multipliedReportingOverflow(by: $0).partialValue <= s ? $0 : nil }
    }

    /// The byte spans (start, length) from the picture's first byte that
    /// `damage` covers (int32 x, y, width, height each; empty: all of it),
    /// clipped to the picture.
    func spans(of damage: [Int32]) -> [(start: Int, length: Int)] {
        guard !damage.isEmpty else { return [(0, stride * height)] }
        var out: [(start: Int, length: Int)] = []
        var i = 0
        while i + 3 < damage.count {
            let x0 = max(0, Int(damage[i])), y0 = max(0, Int(damage[i + 1]))
            let x1 = min(width, Int(damage[i]) + Int(damage[i + 2])), y1 = min(height, Int(damage[i + 1]) + Int(damage[i + 3]))
            i += 4
            guard x0 < x1, y0 < y1 else { continue }
            if let bpp = bytesPerPixel {
                for row in y0..<y1 { out.append((row * stride + x0 * bpp, (x1 - x0) * bpp)) }
            } else {
                out.append((y0 * stride, (y1 - y0) * stride))
            }
        }
        return out
    }
}
