import CLibPipeWire

/// The video format a PipeWire node offers for one guest buffer, read from
/// the buffer's properties (docs/buffer-sharing.md): width, height, stride
/// and a DRM format name. DRM names little-endian words (XRGB8888 is the
/// bytes B, G, R, X in memory); SPA names bytes in memory order, so
/// XRGB8888 is BGRx, ARGB8888 BGRA, XBGR8888 RGBx and ABGR8888 RGBA.
public struct SourceFormat: Equatable, Sendable, CustomStringConvertible {
    public enum Pixel: String, Equatable, Sendable {
        case bgrx = "BGRx"
        case bgra = "BGRA"
        case rgbx = "RGBx"
        case rgba = "RGBA"

        /// The `spa_video_format` value.
        public var spaFormat: UInt32 {
            switch self {
            case .bgrx: SPA_VIDEO_FORMAT_BGRx.rawValue
            case .bgra: SPA_VIDEO_FORMAT_BGRA.rawValue
            case .rgbx: SPA_VIDEO_FORMAT_RGBx.rawValue
            case .rgba: SPA_VIDEO_FORMAT_RGBA.rawValue
            }
        }
    }

    public var pixel: Pixel
    public var width: Int
    public var height: Int
    /// Bytes from one row of the guest's buffer to the next.
    public var stride: Int

    /// Largest width or height accepted (PipeWire and GStreamer handle
    /// more, but no camera or window the bridge is for does).
    public static let maxSide = 16384

    public init(pixel: Pixel, width: Int, height: Int, stride: Int) {
        self.pixel = pixel
        self.width = width
        self.height = height
        self.stride = stride
    }

    /// Bytes a row of pixels takes.
    public var rowBytes: Int { width * 4 }

    public var description: String { "\(width)x\(height) \(pixel.rawValue) (stride \(stride))" }

    /// The format a buffer of `size` bytes with these properties describes,
    /// or why it describes none the bridge can offer. The properties come
    /// from a guest: every number is checked, and the image must fit the
    /// buffer.
    public static func from(properties: [(name: String, value: String)], size: Int) -> Result<SourceFormat, FormatRefusal> {
        func value(_ name: String) -> String? { properties.first { $0.name == name }?.value }
        guard let name = value("format") else { return .failure(.missing("format")) }
        let pixel: Pixel
        switch name {
        case "XRGB8888": pixel = .bgrx
        case "ARGB8888": pixel = .bgra
        case "XBGR8888": pixel = .rgbx
        case "ABGR8888": pixel = .rgba
        default: return .failure(.unsupportedFormat(name))
        }
        var numbers: [Int] = []
        for key in ["width", "height", "stride"] {
            guard let text = value(key) else { return .failure(.missing(key)) }
            // At most 2^31 - 1 each, so stride x height cannot overflow.
            guard let n = Int(text), n > 0, n <= Int(Int32.max) else { return .failure(.badNumber(key, text)) }
            numbers.append(n)
        }
        let (width, height, stride) = (numbers[0], numbers[1], numbers[2])
        guard width <= maxSide, height <= maxSide else { return .failure(.tooLarge(width: width, height: height)) }
        guard stride >= width * 4 else { return .failure(.strideTooSmall(stride: stride, width: width)) }
        // The last row needs only its pixels, not a whole stride.
        guard stride * (height - 1) + width * 4 <= size else {
            return .failure(.doesNotFit(bytes: stride * (height - 1) + width * 4, size: size))
        }
        return .success(SourceFormat(pixel: pixel, width: width, height: height, stride: stride))
    }
}
