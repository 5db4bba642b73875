import Sharing

/// Encodes and decodes link frames (byte layouts in docs/link-protocol.md).
/// All integers are little-endian.
public enum FrameCodec {
    /// Appends the encoded frame to `out`.
    public static func encode(_ frame: LinkFrame, into out: inout [UInt8]) {
        var w = Writer(out: out)
        out = []
        switch frame {
        case .hello(let version, let role, let features):
            w.header(.hello, 0)
            w.u32(LinkProtocol.magic); w.u16(version); w.u8(role.rawValue); w.u8(0); w.u64(features)
        case .closeLink(let code, let reason):
            w.header(.closeLink, 0); w.closing(code, reason)
        case .channelOpen(let c, let bufAlloc, let service):
            w.header(.channelOpen, c); w.u32(bufAlloc); w.u32(service.rawValue)
        case .channelAccept(let c, let bufAlloc):
            w.header(.channelAccept, c); w.bufAlloc(bufAlloc)
        case .channelClose(let c, let code, let reason):
            w.header(.channelClose, c); w.closing(code, reason)
        case .data(let c, let credit, let resources, let bytes):
            w.header(.data, c); w.credit(credit); w.u16(UInt16(resources.count)); w.u16(0)
            for r in resources { w.u32(r) }
            w.bytes(bytes)
        case .creditUpdate(let c, let credit):
            w.header(.creditUpdate, c); w.credit(credit)
        case .creditRequest(let c):
            w.header(.creditRequest, c)
        case .resourceOpen(let c, let r, let kind, let size):
            w.header(.resourceOpen, c); w.u32(r); w.u32(kind.rawValue); w.u64(size)
        case .resourceExtend(let c, let r, let size):
            w.header(.resourceExtend, c); w.u32(r); w.u32(0); w.u64(size)
        case .resourceUpdate(let c, let r, let ranges, let bytes):
            w.header(.resourceUpdate, c)
            w.fill(updateHeadBytes(rangeCount: ranges.count) - LinkProtocol.headerSize) { p in
                storeUpdateHead(p, resource: r, ranges: ranges) { ($0.offset, $0.length) }
            }
            w.bytes(bytes)
        case .resourceClose(let c, let r):
            w.header(.resourceClose, c); w.u32(r)
        case .pipeData(let c, let r, let bytes):
            w.header(.pipeData, c); w.u32(r); w.bytes(bytes)
        case .pipeClose(let c, let r):
            w.header(.pipeClose, c); w.u32(r)
        case .regionInfo(let size, let tag):
            w.header(.regionInfo, 0); w.u64(size)
            for i in 0..<16 { w.u8(i < tag.count ? tag[i] : 0) }
        case .bufferRegister(let d):
            w.header(.bufferRegister, 0)
            w.u32(d.id); w.u32(0); w.u64(d.size)
            w.u16(UInt16(clamping: d.ranges.count)); w.u16(UInt16(clamping: d.properties.count))
            w.u16(UInt16(clamping: d.application.count)); w.u16(0)
            for r in d.ranges { w.u64(r.offset); w.u64(r.length) }
            w.bytes(d.application)
            for p in d.properties {
                w.u16(UInt16(clamping: p.name.count)); w.u16(UInt16(clamping: p.value.count))
                w.bytes(p.name); w.bytes(p.value)
            }
        case .bufferUnregister(let id):
            w.header(.bufferUnregister, 0); w.u32(id)
        case .registryReset:
            w.header(.registryReset, 0)
        case .laneOffer(let token):
            w.header(.laneOffer, 0); w.token(token)
        case .laneAttach(let token):
            w.header(.laneAttach, 0); w.u32(LinkProtocol.magic); w.token(token)
        case .laneMove(let c):
            w.header(.laneMove, c)
        }
        w.finish()
        out = w.out
    }

    /// The encoded frame as a new array.
    public static func encode(_ frame: LinkFrame) -> [UInt8] {
        var out: [UInt8] = []
        encode(frame, into: &out)
        return out
    }

    /// The header and range table of a `resourceUpdate`, decoded before its data.
    public struct UpdateHead {
        public var channel: UInt32
        public var resource: UInt32
        public var ranges: [UpdateRange]
        /// Frame header, fixed part and range table: where the data starts.
        public var headBytes: Int
    }

    /// If `bytes` starts with a `resourceUpdate` whose header and range table
    /// are complete, decodes them with the checks `decode` makes (range
    /// count, table size, data size equal to the sum of the lengths); nil if
    /// it is another frame or not complete yet (or too short to be valid,
    /// which `decode` then reports).
    public static func decodeUpdateHead(_ bytes: UnsafeRawBufferPointer, limits: LinkLimits) throws(LinkProtocolError) -> UpdateHead? {
        guard bytes.count >= updateHeadBytes(rangeCount: 0), let header = readHeader(bytes),
              header.type == FrameType.resourceUpdate.rawValue else { return nil }
        guard header.payload >= updateFixedBytes, header.payload <= limits.maxPayload else { return nil }
        var r = Reader(bytes: bytes, offset: LinkProtocol.headerSize, type: .resourceUpdate)
        guard let head = try readUpdateHead(&r, payload: header.payload, limits: limits) else { return nil }
        return UpdateHead(channel: header.channel, resource: head.resource, ranges: head.ranges, headBytes: updateHeadBytes(rangeCount: head.ranges.count))
    }

    /// The range count of the `resourceUpdate` whose header and fixed part
    /// start `bytes`; nil for another frame or a count no valid frame has
    /// (`decodeUpdateHead` then says why). How much of the head to read next.
    static func updateRangeCount(_ bytes: UnsafeRawBufferPointer, limits: LinkLimits) -> Int? {
        guard bytes.count >= updateHeadBytes(rangeCount: 0), let header = readHeader(bytes),
              header.type == FrameType.resourceUpdate.rawValue else { return nil }
        let count = Int(bytes.loadUnaligned(fromByteOffset: LinkProtocol.headerSize + 4, as: UInt32.self).littleEndian)
        return count <= limits.maxRangesPerUpdate ? count : nil
    }

    /// Writes a `resourceUpdate`'s frame header, fixed part and range table
    /// (`12 + 8 + 16·ranges.count` bytes) at `p`; `dataBytes` of range data
    /// (the sum of the lengths) must follow.
    public static func writeUpdateHeader(into p: UnsafeMutableRawPointer, channel: UInt32, resource: UInt32, ranges: some Collection<UpdateRun>, dataBytes: Int) {
        let headBytes = updateHeadBytes(rangeCount: ranges.count)
        storeHeader(p, type: .resourceUpdate, channel: channel, payload: headBytes - LinkProtocol.headerSize + dataBytes)
        storeUpdateHead(p + LinkProtocol.headerSize, resource: resource, ranges: ranges) { (UInt64($0.offset), UInt32($0.length)) }
    }

    // MARK: Layouts written or read in one place each

    /// The frame header: u32 payload length, u16 type, u16 flags (0), u32
    /// channel. Every encoder stores it here.
    private static func storeHeader(_ p: UnsafeMutableRawPointer, type: FrameType, channel: UInt32, payload: Int) {
        p.storeBytes(of: UInt32(payload).littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: type.rawValue.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: channel.littleEndian, toByteOffset: 8, as: UInt32.self)
    }

    /// The frame header at the start of `bytes`, or nil if it is not complete.
    /// The type is raw: whether it is known is the caller's question.
    private static func readHeader(_ bytes: UnsafeRawBufferPointer) -> (payload: Int, type: UInt16, channel: UInt32)? {
        guard bytes.count >= LinkProtocol.headerSize else { return nil }
        return (Int(bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian),
                bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self).littleEndian,
                bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian)
    }

    /// A `resourceUpdate`'s fixed part: u32 resource, u32 range count.
    private static let updateFixedBytes = 8
    /// One range table entry: u64 offset, u32 length, u32 reserved.
    private static let updateRangeBytes = 16

    /// Frame header, fixed part and range table of a `resourceUpdate`.
    static func updateHeadBytes(rangeCount: Int) -> Int {
        LinkProtocol.headerSize + updateFixedBytes + updateRangeBytes * rangeCount
    }

    /// Stores a `resourceUpdate`'s fixed part and range table at `p` (just
    /// after the frame header), for `encode` and `writeUpdateHeader` alike:
    /// `entry` gives each range's offset and length.
    private static func storeUpdateHead<Ranges: Collection>(_ p: UnsafeMutableRawPointer, resource: UInt32, ranges: Ranges,
                                                            _ entry: (Ranges.Element) -> (offset: UInt64, length: UInt32)) {
        p.storeBytes(of: resource.littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: UInt32(ranges.count).littleEndian, toByteOffset: 4, as: UInt32.self)
        var at = updateFixedBytes
        for range in ranges {
            let (offset, length) = entry(range)
            p.storeBytes(of: offset.littleEndian, toByteOffset: at, as: UInt64.self)
            p.storeBytes(of: length.littleEndian, toByteOffset: at + 8, as: UInt32.self)
            p.storeBytes(of: UInt32(0), toByteOffset: at + 12, as: UInt32.self)
            at += updateRangeBytes
        }
    }

    /// Reads a `resourceUpdate`'s fixed part and range table from `r` (just
    /// after the frame header), for `decode` and `decodeUpdateHead` alike,
    /// checking the range count against the limit and the `payload` length,
    /// and the data the ranges cover against what the frame carries. Nil if
    /// `r` ends before the table does.
    private static func readUpdateHead(_ r: inout Reader, payload: Int, limits: LinkLimits) throws(LinkProtocolError) -> (resource: UInt32, ranges: [UpdateRange])? {
        let resource = try r.u32()
        let count = Int(try r.u32())
        guard count <= limits.maxRangesPerUpdate, count * updateRangeBytes <= payload - updateFixedBytes else {
            throw .malformed(.resourceUpdate, "\(count) ranges do not fit the frame")
        }
        guard r.remaining >= count * updateRangeBytes else { return nil }
        var ranges: [UpdateRange] = []
        ranges.reserveCapacity(count)
        var dataBytes = 0
        for _ in 0..<count {
            let offset = try r.u64()
            let length = try r.u32()
            _ = try r.u32()
            ranges.append(UpdateRange(offset: offset, length: length))
            dataBytes += Int(length)
        }
        let carried = payload - updateFixedBytes - count * updateRangeBytes
        guard dataBytes == carried else { throw .malformed(.resourceUpdate, "ranges cover \(dataBytes) bytes, frame carries \(carried)") }
        return (resource, ranges)
    }

    /// The channel field of the frame header at the start of `bytes` (0 for
    /// a link-wide frame), or nil if the header is not complete.
    public static func frameChannel(_ bytes: UnsafeRawBufferPointer) -> UInt32? { readHeader(bytes)?.channel }

    /// Length of the frame at the start of `bytes`, or nil if its header is not
    /// complete yet. Throws if the header announces an impossible frame.
    public static func frameLength(_ bytes: UnsafeRawBufferPointer, limits: LinkLimits) throws(LinkProtocolError) -> Int? {
        guard let header = readHeader(bytes) else { return nil }
        guard FrameType(rawValue: header.type) != nil else { throw .unknownFrameType(header.type) }
        guard header.payload <= limits.maxPayload else { throw .oversizedFrame(header.payload, limit: limits.maxPayload) }
        return LinkProtocol.headerSize + header.payload
    }

    /// Decodes one whole frame (header included).
    public static func decode(_ bytes: UnsafeRawBufferPointer, limits: LinkLimits) throws(LinkProtocolError) -> LinkFrame {
        guard let total = try frameLength(bytes, limits: limits), total == bytes.count, let header = readHeader(bytes) else {
            throw .unexpected("frame length does not match its buffer")
        }
        let type = FrameType(rawValue: header.type)!
        let channel = header.channel
        var r = Reader(bytes: bytes, offset: LinkProtocol.headerSize, type: type)
        let frame: LinkFrame
        switch type {
        case .hello:
            let magic = try r.u32()
            guard magic == LinkProtocol.magic else { throw .badMagic(magic) }
            let version = try r.u16()
            let rawRole = try r.u8()
            _ = try r.u8()
            let features = try r.u64()
            guard let role = LinkRole(rawValue: rawRole) else { throw .unknownRole(rawRole) }
            frame = .hello(version: version, role: role, features: features)
        case .closeLink:
            let (code, reason) = try r.closing(limits)
            frame = .closeLink(code: code, reason: reason)
        case .channelOpen:
            let bufAlloc = try r.u32()
            let rawService = try r.u32()
            guard let service = ChannelService(rawValue: rawService) else { throw .malformed(type, "unknown service \(rawService)") }
            frame = .channelOpen(channel: channel, bufAlloc: bufAlloc, service: service)
        case .channelAccept:
            frame = .channelAccept(channel: channel, bufAlloc: try r.bufAlloc())
        case .channelClose:
            let (code, reason) = try r.closing(limits)
            frame = .channelClose(channel: channel, code: code, reason: reason)
        case .data:
            let credit = try r.credit()
            let count = Int(try r.u16())
            _ = try r.u16()
            guard count <= limits.maxResourcesPerData else { throw .malformed(type, "\(count) resource references") }
            var resources: [UInt32] = []
            resources.reserveCapacity(count)
            for _ in 0..<count { resources.append(try r.u32()) }
            frame = .data(channel: channel, credit: credit, resources: resources, bytes: r.rest())
        case .creditUpdate:
            frame = .creditUpdate(channel: channel, credit: try r.credit())
        case .creditRequest:
            frame = .creditRequest(channel: channel)
        case .resourceOpen:
            let res = try r.u32()
            let rawKind = try r.u32()
            guard let kind = ResourceKind(rawValue: rawKind) else { throw .malformed(type, "unknown resource kind \(rawKind)") }
            frame = .resourceOpen(channel: channel, resource: res, kind: kind, size: try r.u64())
        case .resourceExtend:
            let res = try r.u32(); _ = try r.u32()
            frame = .resourceExtend(channel: channel, resource: res, size: try r.u64())
        case .resourceUpdate:
            // The whole frame is here, so the table is too: nil cannot happen.
            guard let head = try readUpdateHead(&r, payload: header.payload, limits: limits) else { throw .malformed(type, "payload too short") }
            frame = .resourceUpdate(channel: channel, resource: head.resource, ranges: head.ranges, bytes: r.rest())
        case .resourceClose:
            frame = .resourceClose(channel: channel, resource: try r.u32())
        case .pipeData:
            let res = try r.u32()
            frame = .pipeData(channel: channel, resource: res, bytes: r.rest())
        case .pipeClose:
            frame = .pipeClose(channel: channel, resource: try r.u32())
        case .regionInfo:
            let size = try r.u64()
            frame = .regionInfo(size: size, tag: try r.take(16))
        case .bufferRegister:
            frame = .bufferRegister(try r.bufferDescriptor())
        case .bufferUnregister:
            frame = .bufferUnregister(id: try r.u32())
        case .registryReset:
            frame = .registryReset
        case .laneOffer:
            frame = .laneOffer(token: try r.take(LinkProtocol.laneTokenBytes))
        case .laneAttach:
            let magic = try r.u32()
            guard magic == LinkProtocol.magic else { throw .badMagic(magic) }
            frame = .laneAttach(token: try r.take(LinkProtocol.laneTokenBytes))
        case .laneMove:
            frame = .laneMove(channel: channel)
        }
        guard r.remaining == 0 else { throw .malformed(type, "\(r.remaining) trailing bytes") }
        return frame
    }

    private struct Writer {
        var out: [UInt8]
        var start = 0
        var type = FrameType.hello
        var channel: UInt32 = 0
        /// Room for the frame header, stored by `finish()` once the payload
        /// length is known.
        mutating func header(_ t: FrameType, _ channel: UInt32) {
            start = out.count
            type = t
            self.channel = channel
            out.append(contentsOf: repeatElement(0, count: LinkProtocol.headerSize))
        }
        /// Appends `count` bytes that `body` stores.
        mutating func fill(_ count: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
            let at = out.count
            out.append(contentsOf: repeatElement(0, count: count))
            out.withUnsafeMutableBytes { body($0.baseAddress! + at) }
        }
        mutating func u8(_ v: UInt8) { out.append(v) }
        mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        mutating func bytes(_ b: [UInt8]) { out.append(contentsOf: b) }
        mutating func credit(_ c: LinkFrame.Credit) { u32(c.bufAlloc); u32(c.fwdCnt) }
        /// channelAccept: u32 buf_alloc, u32 reserved.
        mutating func bufAlloc(_ b: UInt32) { u32(b); u32(0) }
        /// closeLink and channelClose: u32 code, then the reason's UTF-8 to the end.
        mutating func closing(_ code: UInt32, _ reason: String) { u32(code); bytes(Array(reason.utf8)) }
        /// A lane token: exactly `laneTokenBytes`, zero-padded or cut.
        mutating func token(_ t: [UInt8]) {
            for i in 0..<LinkProtocol.laneTokenBytes { u8(i < t.count ? t[i] : 0) }
        }
        mutating func finish() {
            let payload = out.count - start - LinkProtocol.headerSize
            out.withUnsafeMutableBytes { storeHeader($0.baseAddress! + start, type: type, channel: channel, payload: payload) }
        }
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset: Int
        let type: FrameType
        var remaining: Int { bytes.count - offset }
        mutating func take<T: FixedWidthInteger>(_: T.Type) throws(LinkProtocolError) -> T {
            guard remaining >= MemoryLayout<T>.size else { throw .malformed(type, "payload too short") }
            let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
            offset += MemoryLayout<T>.size
            return v
        }
        mutating func u8() throws(LinkProtocolError) -> UInt8 { try take(UInt8.self) }
        mutating func u16() throws(LinkProtocolError) -> UInt16 { try take(UInt16.self) }
        mutating func u32() throws(LinkProtocolError) -> UInt32 { try take(UInt32.self) }
        mutating func u64() throws(LinkProtocolError) -> UInt64 { try take(UInt64.self) }
        mutating func credit() throws(LinkProtocolError) -> LinkFrame.Credit {
            LinkFrame.Credit(bufAlloc: try u32(), fwdCnt: try u32())
        }
        /// channelAccept: u32 buf_alloc, u32 reserved.
        mutating func bufAlloc() throws(LinkProtocolError) -> UInt32 {
            let b = try u32()
            _ = try u32()
            return b
        }
        mutating func closing(_ limits: LinkLimits) throws(LinkProtocolError) -> (code: UInt32, reason: String) {
            (try u32(), try reason(limits))
        }
        mutating func take(_ n: Int) throws(LinkProtocolError) -> [UInt8] {
            guard n >= 0, remaining >= n else { throw .malformed(type, "payload too short") }
            let r = Array(bytes[offset..<(offset + n)])
            offset += n
            return r
        }
        /// Counts are checked against the bytes present before anything is
        /// allocated; the registry checks the rest.
        mutating func bufferDescriptor() throws(LinkProtocolError) -> BufferDescriptor {
            let id = try u32(); _ = try u32()
            let size = try u64()
            let rangeCount = Int(try u16()), propertyCount = Int(try u16()), appLength = Int(try u16())
            _ = try u16()
            guard rangeCount * 16 + appLength + propertyCount * 4 <= remaining else {
                throw .malformed(type, "\(rangeCount) ranges, \(propertyCount) properties and a \(appLength)-byte name do not fit the frame")
            }
            var ranges: [MemoryRange] = []
            ranges.reserveCapacity(rangeCount)
            for _ in 0..<rangeCount { ranges.append(MemoryRange(offset: try u64(), length: try u64())) }
            let application = try take(appLength)
            var properties: [BufferProperty] = []
            for _ in 0..<propertyCount {
                let n = Int(try u16()), v = Int(try u16())
                properties.append(BufferProperty(name: try take(n), value: try take(v)))
            }
            return BufferDescriptor(id: id, size: size, application: application, ranges: ranges, properties: properties)
        }
        mutating func rest() -> [UInt8] {
            let r = Array(bytes[offset...])
            offset = bytes.count
            return r
        }
        /// Invalid UTF-8 becomes U+FFFD, three bytes for one: the text is
        /// cut again so that a decoded reason is never longer than a reason
        /// may be (found by fuzz-link-frames: a 1024-byte reason came back
        /// as 1124 bytes, which no one could send on).
        mutating func reason(_ limits: LinkLimits) throws(LinkProtocolError) -> String {
            guard remaining <= limits.maxReasonBytes else { throw .malformed(type, "reason of \(remaining) bytes") }
            return limits.reasonText(String(decoding: rest(), as: UTF8.self))
        }
    }
}
