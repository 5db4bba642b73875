/// Why a message could not be decoded.
public enum WireError: Error, Equatable, CustomStringConvertible, Sendable {
    case badSize(Int, String)
    case truncated(String)
    case badString(String)
    case nullNotAllowed(String)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .badSize(let s, let why): return "message size \(s) \(why)"
        case .truncated(let what): return "message ends inside \(what)"
        case .badString(let why): return "bad string: \(why)"
        case .nullNotAllowed(let what): return "null \(what) where the protocol forbids it"
        case .trailingBytes(let n): return "\(n) bytes left over after the last argument"
        }
    }
}
