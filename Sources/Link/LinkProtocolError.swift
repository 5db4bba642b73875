/// A violation of the link protocol by the peer. The link that saw it is closed.
public enum LinkProtocolError: Error, Equatable, CustomStringConvertible, Sendable {
    case badMagic(UInt32)
    case unsupportedVersion(UInt16)
    case sameRole(LinkRole)
    case unknownRole(UInt8)
    case helloExpected(UInt16)
    case unknownFrameType(UInt16)
    case oversizedFrame(Int, limit: Int)
    case malformed(FrameType, String)
    case unknownChannel(UInt32)
    case channelInUse(UInt32)
    case tooManyChannels(Int)
    case creditOverrun(channel: UInt32, bytes: Int, free: Int)
    case unknownResource(channel: UInt32, resource: UInt32)
    case resourceInUse(channel: UInt32, resource: UInt32)
    case resourceLimit(String)
    case rangeOutsideResource(resource: UInt32, offset: UInt64, length: UInt32, size: UInt64)
    /// The two proxies do not map the same shared region.
    case regionMismatch(String)
    /// A buffer registry request the host refused.
    case registry(String)
    case unexpected(String)
    /// File descriptors arrived on the link socket (nothing on a link carries any).
    case fileDescriptors

    public var description: String {
        switch self {
        case .badMagic(let m): return "bad magic 0x\(String(m, radix: 16)) in hello"
        case .unsupportedVersion(let v): return "peer speaks link version \(v), this side speaks \(LinkProtocol.version)"
        case .sameRole(let r): return "both ends claim to be the \(r)"
        case .unknownRole(let r): return "unknown role \(r) in hello"
        case .helloExpected(let t): return "frame type \(t) before hello"
        case .unknownFrameType(let t): return "unknown frame type \(t)"
        case .oversizedFrame(let n, let limit): return "frame payload of \(n) bytes exceeds the \(limit)-byte limit"
        case .malformed(let t, let why): return "malformed \(t) frame: \(why)"
        case .unknownChannel(let c): return "frame for unknown channel \(c)"
        case .channelInUse(let c): return "channel \(c) opened twice"
        case .tooManyChannels(let n): return "more than \(n) channels"
        case .creditOverrun(let c, let bytes, let free): return "credit overrun on channel \(c): \(bytes) bytes sent with \(free) free"
        case .unknownResource(let c, let r): return "unknown resource \(r) on channel \(c)"
        case .resourceInUse(let c, let r): return "resource \(r) on channel \(c) opened twice"
        case .resourceLimit(let why): return "resource limit: \(why)"
        case .rangeOutsideResource(let r, let o, let l, let s): return "update range \(o)+\(l) outside resource \(r) of \(s) bytes"
        case .regionMismatch(let why): return "shared region mismatch: \(why)"
        case .registry(let why): return "buffer registry: \(why)"
        case .unexpected(let why): return why
        case .fileDescriptors: return "peer sent file descriptors over the link"
        }
    }
}
