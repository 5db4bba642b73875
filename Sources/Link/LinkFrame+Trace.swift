import PortholeSystem

/// One line per frame for `--trace`: the kind, its channel and resource,
/// and sizes rather than contents (a peer's close reason is quoted with its
/// control characters escaped, so it cannot forge trace lines).
extension LinkFrame {
    public var traceLine: String {
        switch self {
        case .hello(let v, let role, let features): return "hello(version \(v), \(role), features 0x\(String(features, radix: 16)))"
        case .closeLink(let code, let reason): return "closeLink(code \(code), \(Self.escaped(reason)))"
        case .channelOpen(let c, let b, let service): return "channelOpen(channel \(c), buf_alloc \(b), \(service))"
        case .channelAccept(let c, let b): return "channelAccept(channel \(c), buf_alloc \(b))"
        case .channelClose(let c, let code, let reason): return "channelClose(channel \(c), code \(code), \(Self.escaped(reason)))"
        case .data(let c, let credit, let refs, let bytes):
            return "data(channel \(c), \(bytes.count) bytes, resources \(refs), fwd_cnt \(credit.fwdCnt))"
        case .creditUpdate(let c, let credit): return "creditUpdate(channel \(c), buf_alloc \(credit.bufAlloc), fwd_cnt \(credit.fwdCnt))"
        case .creditRequest(let c): return "creditRequest(channel \(c))"
        case .resourceOpen(let c, let r, let kind, let size): return "resourceOpen(channel \(c), resource \(r), \(kind), \(size) bytes)"
        case .resourceExtend(let c, let r, let size): return "resourceExtend(channel \(c), resource \(r), \(size) bytes)"
        case .resourceUpdate(let c, let r, let ranges, let bytes):
            return "resourceUpdate(channel \(c), resource \(r), \(ranges.count) ranges, \(bytes.count) bytes)"
        case .resourceClose(let c, let r): return "resourceClose(channel \(c), resource \(r))"
        case .pipeData(let c, let r, let bytes): return "pipeData(channel \(c), resource \(r), \(bytes.count) bytes)"
        case .pipeClose(let c, let r): return "pipeClose(channel \(c), resource \(r))"
        case .regionInfo(let size, _): return "regionInfo(\(size) bytes)"
        case .bufferRegister(let d): return "bufferRegister(id \(d.id), \(d.size) bytes, \(d.ranges.count) ranges, \(d.properties.count) properties)"
        case .bufferUnregister(let id): return "bufferUnregister(id \(id))"
        case .registryReset: return "registryReset"
        case .laneOffer: return "laneOffer"
        case .laneAttach: return "laneAttach"
        case .laneMove(let c): return "laneMove(channel \(c))"
        }
    }

    private static func escaped(_ s: String) -> String { LogText.escaped(s) }
}
