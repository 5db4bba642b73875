import Glibc
import Link
import PortholeSystem
import SystemTestSupport
import Testing

// MARK: - Building raw frames

extension Array where Element == UInt8 {
    mutating func le16(_ v: UInt16) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func le32(_ v: UInt32) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func le64(_ v: UInt64) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
}

/// A frame built by hand: header (with `length` defaulting to the payload's
/// size) followed by `payload`.
func rawFrame(type: UInt16, channel: UInt32 = 0, flags: UInt16 = 0, length: UInt32? = nil, payload: [UInt8] = []) -> [UInt8] {
    var out: [UInt8] = []
    out.le32(length ?? UInt32(payload.count))
    out.le16(type)
    out.le16(flags)
    out.le32(channel)
    return out + payload
}

func helloPayload(magic: UInt32 = LinkProtocol.magic, version: UInt16 = 1, role: UInt8, reserved: UInt8 = 0, features: UInt64 = 0) -> [UInt8] {
    var p: [UInt8] = []
    p.le32(magic); p.le16(version); p.append(role); p.append(reserved); p.le64(features)
    return p
}

func decodeFrame(_ bytes: [UInt8], limits: LinkLimits = LinkLimits()) throws(LinkProtocolError) -> LinkFrame {
    try bytes.withUnsafeBytes { b in Result { () throws(LinkProtocolError) -> LinkFrame in try FrameCodec.decode(b, limits: limits) } }.get()
}

func frameLength(_ bytes: [UInt8], limits: LinkLimits = LinkLimits()) throws(LinkProtocolError) -> Int? {
    try bytes.withUnsafeBytes { b in Result { () throws(LinkProtocolError) -> Int? in try FrameCodec.frameLength(b, limits: limits) } }.get()
}

/// The error `body` throws, or nil (recording an issue) if it does not throw.
func protocolError(_ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(LinkProtocolError) -> Void) -> LinkProtocolError? {
    do {
        try body()
        Issue.record("expected a LinkProtocolError. \(comment?.rawValue ?? "")", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

extension LinkProtocolError {
    /// The frame type of a `.malformed` error.
    var malformedType: FrameType? {
        if case .malformed(let t, _) = self { return t }
        return nil
    }
}

// MARK: - Decoding a byte stream

/// Reassembles frames from arbitrary chunks the way LinkEndpoint does:
/// accumulate, then frameLength + decode while whole frames are buffered.
final class StreamDecoder {
    let limits: LinkLimits
    let buffer = ReadBuffer()
    private(set) var frames: [LinkFrame] = []
    init(limits: LinkLimits = LinkLimits()) { self.limits = limits }

    func feed<C: Collection<UInt8>>(_ chunk: C) throws(LinkProtocolError) {
        buffer.append(chunk)
        while true {
            let limits = self.limits
            let length = try buffer.withUnconsumed { b in
                Result { () throws(LinkProtocolError) -> Int? in try FrameCodec.frameLength(b, limits: limits) }
            }.get()
            guard let length, buffer.count >= length else { return }
            let frame = try buffer.withUnconsumed { b in
                Result { () throws(LinkProtocolError) -> LinkFrame in
                    try FrameCodec.decode(UnsafeRawBufferPointer(rebasing: b[0..<length]), limits: limits)
                }
            }.get()
            buffer.consume(length)
            frames.append(frame)
        }
    }
}

// MARK: - Deterministic randomness

func randomBytes<G: RandomNumberGenerator>(_ count: Int, using rng: inout G) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// A random valid frame of any type; `maxBytes` bounds variable-length parts.
func randomFrame<G: RandomNumberGenerator>(using rng: inout G, maxBytes: Int = 300) -> LinkFrame {
    let channel = UInt32.random(in: 0...UInt32.max, using: &rng)
    let resource = UInt32.random(in: 0...UInt32.max, using: &rng)
    let credit = LinkFrame.Credit(bufAlloc: .random(in: 0...UInt32.max, using: &rng), fwdCnt: .random(in: 0...UInt32.max, using: &rng))
    func text() -> String {
        let pieces = ["a", "é", "✓", "🚀", " ", "link", "\u{0}"]
        return (0..<Int.random(in: 0...40, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }
    switch Int.random(in: 0..<14, using: &rng) {
    case 0: return .hello(version: .random(in: 0...UInt16.max, using: &rng), role: Bool.random(using: &rng) ? .guest : .host, features: .random(in: 0...UInt64.max, using: &rng))
    case 1: return .closeLink(code: .random(in: 0...3, using: &rng), reason: text())
    case 2: return .channelOpen(channel: channel, bufAlloc: credit.bufAlloc)
    case 3: return .channelAccept(channel: channel, bufAlloc: credit.bufAlloc)
    case 4: return .channelClose(channel: channel, code: .random(in: 0...3, using: &rng), reason: text())
    case 5:
        let refs = (0..<Int.random(in: 0...8, using: &rng)).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }
        return .data(channel: channel, credit: credit, resources: refs, bytes: randomBytes(.random(in: 0...maxBytes, using: &rng), using: &rng))
    case 6: return .creditUpdate(channel: channel, credit: credit)
    case 7: return .creditRequest(channel: channel)
    case 8:
        let kind = [ResourceKind.shmPool, .readOnlyFile, .pipe].randomElement(using: &rng)!
        return .resourceOpen(channel: channel, resource: resource, kind: kind, size: .random(in: 0...UInt64.max, using: &rng))
    case 9: return .resourceExtend(channel: channel, resource: resource, size: .random(in: 0...UInt64.max, using: &rng))
    case 10:
        let ranges = (0..<Int.random(in: 0...6, using: &rng)).map { _ in
            UpdateRange(offset: .random(in: 0...UInt64.max, using: &rng), length: .random(in: 0...UInt32(maxBytes / 6), using: &rng))
        }
        let total = ranges.reduce(0) { $0 + Int($1.length) }
        return .resourceUpdate(channel: channel, resource: resource, ranges: ranges, bytes: randomBytes(total, using: &rng))
    case 11: return .resourceClose(channel: channel, resource: resource)
    case 12: return .pipeData(channel: channel, resource: resource, bytes: randomBytes(.random(in: 0...maxBytes, using: &rng), using: &rng))
    default: return .pipeClose(channel: channel, resource: resource)
    }
}

// MARK: - Memory

/// Zeroed memory a test sends from or receives into, freed with the object
/// (an update's owner).
final class TestMemory {
    let pointer: UnsafeMutableRawPointer
    let size: Int
    init(size: Int) {
        self.size = size
        pointer = .allocate(byteCount: size, alignment: 16)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    }
    deinit { pointer.deallocate() }
    func bytes(_ range: Range<Int>) -> [UInt8] { Array(UnsafeRawBufferPointer(start: pointer + range.lowerBound, count: range.count)) }
}

// MARK: - Link endpoints on an event loop

/// Records everything a LinkEndpoint tells its delegate.
final class Recorder: LinkEndpointDelegate {
    var opened = 0
    var frames: [LinkFrame] = []
    var closes: [String] = []
    var drains = 0
    var onOpen: ((LinkEndpoint) -> Void)?
    var onFrame: ((LinkEndpoint, LinkFrame) throws(LinkProtocolError) -> Void)?
    var onClose: ((LinkEndpoint, String) -> Void)?

    func linkDidOpen(_ link: LinkEndpoint) {
        opened += 1
        onOpen?(link)
    }
    func link(_ link: LinkEndpoint, received frame: LinkFrame) throws(LinkProtocolError) {
        frames.append(frame)
        try onFrame?(link, frame)
    }
    func linkDidDrain(_ link: LinkEndpoint) { drains += 1 }
    func linkDidClose(_ link: LinkEndpoint, reason: String) {
        closes.append(reason)
        onClose?(link, reason)
    }
}

/// The far end of a link socket driven by hand: it writes raw bytes and
/// decodes whatever the endpoint sends.
final class RawPeer {
    let socket: OwnedFD
    private unowned let loop: EventLoop
    private var token: EventLoop.Token?
    let decoder: StreamDecoder
    var decodeError: LinkProtocolError?
    private(set) var endOfStream = false
    private(set) var receivedFds = 0

    init(socket: OwnedFD, loop: EventLoop, limits: LinkLimits = LinkLimits()) throws {
        self.socket = socket
        self.loop = loop
        decoder = StreamDecoder(limits: limits)
        try startReading()
    }

    var frames: [LinkFrame] { decoder.frames }

    func startReading() throws {
        guard token == nil, !endOfStream else { return }
        token = try loop.register(socket.rawValue, events: .readable) { [weak self] _ in self?.readable() }
    }

    func stopReading() {
        if let t = token { loop.unregister(t) }
        token = nil
    }

    private func readable() {
        let input = ReadBuffer()
        let alive: Bool
        do { alive = try input.fill(from: socket) } catch {
            Issue.record("raw peer read failed: \(error)")
            stopReading()
            return
        }
        receivedFds += input.fds.count
        do { try input.withUnconsumed { b in try decoder.feed(b) } } catch {
            decodeError = error as? LinkProtocolError
        }
        if !alive {
            endOfStream = true
            stopReading()
        }
    }

    func send(_ bytes: [UInt8]) { writeAll(socket.rawValue, bytes) }
    func send(_ frame: LinkFrame) { send(FrameCodec.encode(frame)) }
    func sendHello(role: LinkRole, version: UInt16 = 1, features: UInt64 = 0) {
        send(.hello(version: version, role: role, features: features))
    }

    /// Closes the socket (the endpoint sees end of stream).
    func close() {
        stopReading()
        socket.close()
    }
}
