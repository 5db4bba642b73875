import CLibPipeWire

/// The format of frames a PipeWire source sends `porthole pipewire import`,
/// and the properties of the producer buffer that carries them
/// (docs/buffer-sharing.md): the mapping of `SourceFormat.Pixel` read the
/// other way, rows packed (stride = width x 4).
public struct ImportFormat: Equatable, Sendable, CustomStringConvertible {
    public var pixel: SourceFormat.Pixel
    public var width: Int
    public var height: Int

    public init(pixel: SourceFormat.Pixel, width: Int, height: Int) {
        self.pixel = pixel
        self.width = width
        self.height = height
    }

    /// What a source fixed, or nil for a format or size the import does not
    /// take (PipeWire only fixes what was offered, but a size of 0 means cleared).
    public static func from(spaFormat: UInt32, width: UInt32, height: UInt32) -> ImportFormat? {
        let pixels: [SourceFormat.Pixel] = [.bgrx, .bgra, .rgbx, .rgba]
        guard let pixel = pixels.first(where: { $0.spaFormat == spaFormat }),
              width > 0, height > 0, width <= SourceFormat.maxSide, height <= SourceFormat.maxSide else { return nil }
        return ImportFormat(pixel: pixel, width: Int(width), height: Int(height))
    }

    public var stride: Int { width * 4 }
    public var bytes: Int { stride * height }

    /// The DRM name (little-endian words) of the SPA byte order.
    public var drmName: String {
        switch pixel {
        case .bgrx: "XRGB8888"
        case .bgra: "ARGB8888"
        case .rgbx: "XBGR8888"
        case .rgba: "ABGR8888"
        }
    }

    /// The producer buffer's properties, as `SourceFormat.from` reads them.
    public var properties: [(String, String)] {
        [("width", "\(width)"), ("height", "\(height)"), ("stride", "\(stride)"), ("format", drmName)]
    }

    public var description: String { "\(width)x\(height) \(pixel.rawValue)" }
}
