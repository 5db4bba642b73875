import PortholeSystem

/// Why a buffer's properties describe no format the bridge can offer.
public enum FormatRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case missing(String)
    case unsupportedFormat(String)
    case badNumber(String, String)
    case tooLarge(width: Int, height: Int)
    case strideTooSmall(stride: Int, width: Int)
    case doesNotFit(bytes: Int, size: Int)

    public var description: String {
        switch self {
        case .missing(let name): "no \(name) property"
        case .unsupportedFormat(let name): "format \(LogText.escaped(name, limit: 32)) is not one of XRGB8888, ARGB8888, XBGR8888, ABGR8888"
        case .badNumber(let name, let text): "\(name) \(LogText.escaped(text, limit: 32)) is not a positive size"
        case .tooLarge(let w, let h): "\(w)x\(h) is larger than \(SourceFormat.maxSide) a side"
        case .strideTooSmall(let stride, let width): "stride \(stride) is less than 4 x width \(width)"
        case .doesNotFit(let bytes, let size): "the image needs \(bytes) bytes but the buffer has \(size)"
        }
    }
}
