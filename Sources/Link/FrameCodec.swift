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
            w.header(.closeLink, 0); w.u32(code); w.bytes(Array(reason.utf8))
        case .channelOpen(let c, let bufAlloc):
            w.header(.channelOpen, c); w.u32(bufAlloc); w.u32(0)
        case .channelAccept(let c, let bufAlloc):
            w.header(.channelAccept, c); w.u32(bufAlloc); w.u32(0)
        case .channelClose(let c, let code, let reason):
            w.header(.channelClose, c); w.u32(code); w.bytes(Array(reason.utf8))
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
            w.header(.resourceUpdate, c); w.u32(r); w.u32(UInt32(ranges.count))
            for range in ranges { w.u64(range.offset); w.u32(range.length); w.u32(0) }
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
        let h = LinkProtocol.headerSize
        guard bytes.count >= h + 8 else { return nil }
        guard bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self).littleEndian == FrameType.resourceUpdate.rawValue else { return nil }
        let length = Int(bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian)
        guard length >= 8, length <= limits.maxPayload else { return nil }
        let channel = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        let resource = bytes.loadUnaligned(fromByteOffset: h, as: UInt32.self).littleEndian
        let count = Int(bytes.loadUnaligned(fromByteOffset: h + 4, as: UInt32.self).littleEndian)
        guard count <= limits.maxRangesPerUpdate, count * 16 <= length - 8 else {
            throw .malformed(.resourceUpdate, "\(count) ranges do not fit the frame")
        }
        let headBytes = h + 8 + 16 * count
        guard bytes.count >= headBytes else { return nil }
        var ranges: [UpdateRange] = []
        ranges.reserveCapacity(count)
        var dataBytes = 0
        var at = h + 8
        for _ in 0..<count {
            let offset = bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian
            let rangeLength = bytes.loadUnaligned(fromByteOffset: at + 8, as: UInt32.self).littleEndian
            ranges.append(UpdateRange(offset: offset, length: rangeLength))
            dataBytes += Int(rangeLength)
            at += 16
        }
        let carried = length - 8 - 16 * count
        guard dataBytes == carried else { throw .malformed(.resourceUpdate, "ranges cover \(dataBytes) bytes, frame carries \(carried)") }
        return UpdateHead(channel: channel, resource: resource, ranges: ranges, headBytes: headBytes)
    }

    /// Writes a `resourceUpdate`'s frame header, fixed part and range table
    /// (`12 + 8 + 16·ranges.count` bytes) at `p`; `dataBytes` of range data
    /// (the sum of the lengths) must follow.
    public static func writeUpdateHeader(into p: UnsafeMutableRawPointer, channel: UInt32, resource: UInt32, ranges: [UpdateRun], dataBytes: Int) {
        let payload = 8 + 16 * ranges.count + dataBytes
        p.storeBytes(of: UInt32(payload).littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: FrameType.resourceUpdate.rawValue.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: channel.littleEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: resource.littleEndian, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: UInt32(ranges.count).littleEndian, toByteOffset: 16, as: UInt32.self)
        var at = 20
        for r in ranges {
            p.storeBytes(of: UInt64(r.offset).littleEndian, toByteOffset: at, as: UInt64.self)
            p.storeBytes(of: UInt32(r.length).littleEndian, toByteOffset: at + 8, as: UInt32.self)
            p.storeBytes(of: UInt32(0), toByteOffset: at + 12, as: UInt32.self)
            at += 16
        }
    }

    /// Length of the frame at the start of `bytes`, or nil if its header is not
    /// complete yet. Throws if the header announces an impossible frame.
    public static func frameLength(_ bytes: UnsafeRawBufferPointer, limits: LinkLimits) throws(LinkProtocolError) -> Int? {
        guard bytes.count >= LinkProtocol.headerSize else { return nil }
        let length = Int(bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian)
        let type = bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self).littleEndian
        guard FrameType(rawValue: type) != nil else { throw .unknownFrameType(type) }
        guard length <= limits.maxPayload else { throw .oversizedFrame(length, limit: limits.maxPayload) }
        return LinkProtocol.headerSize + length
    }

    /// Decodes one whole frame (header included).
    public static func decode(_ bytes: UnsafeRawBufferPointer, limits: LinkLimits) throws(LinkProtocolError) -> LinkFrame {
        guard let total = try frameLength(bytes, limits: limits), total == bytes.count else {
            throw .unexpected("frame length does not match its buffer")
        }
        let rawType = bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self).littleEndian
        let type = FrameType(rawValue: rawType)!
        let channel = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
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
            frame = .closeLink(code: try r.u32(), reason: try r.reason(limits))
        case .channelOpen:
            let b = try r.u32(); _ = try r.u32()
            frame = .channelOpen(channel: channel, bufAlloc: b)
        case .channelAccept:
            let b = try r.u32(); _ = try r.u32()
            frame = .channelAccept(channel: channel, bufAlloc: b)
        case .channelClose:
            frame = .channelClose(channel: channel, code: try r.u32(), reason: try r.reason(limits))
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
            let res = try r.u32()
            let count = Int(try r.u32())
            guard count <= limits.maxRangesPerUpdate, count * 16 <= r.remaining else {
                throw .malformed(type, "\(count) ranges do not fit the frame")
            }
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
            guard dataBytes == r.remaining else { throw .malformed(type, "ranges cover \(dataBytes) bytes, frame carries \(r.remaining)") }
            frame = .resourceUpdate(channel: channel, resource: res, ranges: ranges, bytes: r.rest())
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
        }
        guard r.remaining == 0 else { throw .malformed(type, "\(r.remaining) trailing bytes") }
        return frame
    }

    private struct Writer {
        var out: [UInt8]
        var start = 0
        mutating func header(_ t: FrameType, _ channel: UInt32) {
            start = out.count
            u32(0); u16(t.rawValue); u16(0); u32(channel)
        }
        mutating func u8(_ v: UInt8) { out.append(v) }
        mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        mutating func bytes(_ b: [UInt8]) { out.append(contentsOf: b) }
        mutating func credit(_ c: LinkFrame.Credit) { u32(c.bufAlloc); u32(c.fwdCnt) }
        mutating func finish() {
            let length = UInt32(out.count - start - LinkProtocol.headerSize).littleEndian
            withUnsafeBytes(of: length) { for i in 0..<4 { out[start + i] = $0[i] } }
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
        mutating func reason(_ limits: LinkLimits) throws(LinkProtocolError) -> String {
            guard remaining <= limits.maxReasonBytes else { throw .malformed(type, "reason of \(remaining) bytes") }
            return String(decoding: rest(), as: UTF8.self)
        }
    }
}
