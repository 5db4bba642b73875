import Link
import PortholeSystem
import Sharing
import SystemTestSupport
import Testing

/// Every frame type, with edge values: empty and full arrays, many ranges,
/// unicode reasons, extreme integers.
let sampleFrames: [LinkFrame] = {
    var rng = SplitMix64(seed: 42)
    let manyRanges = (0..<1000).map { i in UpdateRange(offset: UInt64(i) * 4096, length: UInt32(i % 7)) }
    let manyRangesBytes = randomBytes(manyRanges.reduce(0) { $0 + Int($1.length) }, using: &rng)
    return [
        .hello(version: 1, role: .guest, features: 0),
        .hello(version: .max, role: .host, features: .max),
        .closeLink(code: 0, reason: ""),
        .closeLink(code: 1, reason: "bye — ünïcødé ✓ 🚀 日本語"),
        .closeLink(code: .max, reason: String(repeating: "x", count: 1024)),
        .channelOpen(channel: 1, bufAlloc: 262_144),
        .channelOpen(channel: 2, bufAlloc: 1, service: .bufferService),
        .channelAccept(channel: .max, bufAlloc: 0),
        .channelClose(channel: 5, code: 3, reason: "compositor unreachable ✗"),
        .channelClose(channel: 6, code: 0, reason: ""),
        .data(channel: 2, credit: .init(bufAlloc: 1, fwdCnt: 2), resources: [], bytes: []),
        .data(channel: 3, credit: .init(bufAlloc: .max, fwdCnt: .max), resources: [1, 0x8000_0001, .max], bytes: Array(0...255)),
        .data(channel: 4, credit: .init(bufAlloc: 0, fwdCnt: 0), resources: (0..<255).map { UInt32($0) }, bytes: randomBytes(36_000, using: &rng)),
        .creditUpdate(channel: 9, credit: .init(bufAlloc: 262_144, fwdCnt: 0xFFFF_FFF0)),
        .creditRequest(channel: 5),
        .creditRequest(channel: 0),
        .resourceOpen(channel: 1, resource: 7, kind: .shmPool, size: 1 << 30),
        .resourceOpen(channel: 1, resource: 0x8000_0002, kind: .readOnlyFile, size: 1),
        .resourceOpen(channel: 1, resource: 8, kind: .pipe, size: 0),
        .resourceExtend(channel: 1, resource: 7, size: .max),
        .resourceUpdate(channel: 1, resource: 7, ranges: [], bytes: []),
        .resourceUpdate(channel: 1, resource: 7, ranges: [UpdateRange(offset: 0, length: 3), UpdateRange(offset: 100, length: 0), UpdateRange(offset: .max - 10, length: 2)], bytes: [1, 2, 3, 4, 5]),
        .resourceUpdate(channel: 2, resource: 9, ranges: manyRanges, bytes: manyRangesBytes),
        .resourceClose(channel: 1, resource: 7),
        .pipeData(channel: 3, resource: 0x8000_0003, bytes: []),
        .pipeData(channel: 3, resource: 0x8000_0003, bytes: randomBytes(65_536, using: &rng)),
        .pipeClose(channel: .max, resource: .max),
        .regionInfo(size: 64 << 20, tag: Array(0..<16)),
        .bufferRegister(BufferDescriptor(id: 7, application: "weston-simple-shm", ranges: [MemoryRange(offset: 4096, length: 250_048)],
                                         properties: [("width", "250"), ("height", "250"), ("stride", "1000"), ("format", "1")])),
        .bufferRegister(BufferDescriptor(id: .max, application: "", ranges: [], properties: [])),
        .bufferUnregister(id: 7),
        .registryReset,
        .laneOffer(token: Array(100..<116)),
        .laneAttach(token: Array(repeating: 0xA5, count: 16)),
        .laneMove(channel: 3),
    ]
}()

func frameType(of frame: LinkFrame) -> FrameType {
    switch frame {
    case .hello: return .hello
    case .closeLink: return .closeLink
    case .channelOpen: return .channelOpen
    case .channelAccept: return .channelAccept
    case .channelClose: return .channelClose
    case .data: return .data
    case .creditUpdate: return .creditUpdate
    case .creditRequest: return .creditRequest
    case .resourceOpen: return .resourceOpen
    case .resourceExtend: return .resourceExtend
    case .resourceUpdate: return .resourceUpdate
    case .resourceClose: return .resourceClose
    case .pipeData: return .pipeData
    case .pipeClose: return .pipeClose
    case .regionInfo: return .regionInfo
    case .bufferRegister: return .bufferRegister
    case .bufferUnregister: return .bufferUnregister
    case .registryReset: return .registryReset
    case .laneOffer: return .laneOffer
    case .laneAttach: return .laneAttach
    case .laneMove: return .laneMove
    }
}

let allFrameTypes: [FrameType] = [
    .hello, .closeLink, .channelOpen, .channelAccept, .channelClose, .data, .creditUpdate,
    .creditRequest, .resourceOpen, .resourceExtend, .resourceUpdate, .resourceClose, .pipeData, .pipeClose,
    .regionInfo, .bufferRegister, .bufferUnregister, .registryReset, .laneOffer, .laneAttach, .laneMove,
]

@Suite struct FrameCodecRoundTripTests {
    @Test func samplesCoverEveryFrameType() {
        #expect(Set(sampleFrames.map { frameType(of: $0).rawValue }) == Set(allFrameTypes.map(\.rawValue)))
    }

    @Test(arguments: sampleFrames)
    func roundTrip(_ frame: LinkFrame) throws {
        let bytes = FrameCodec.encode(frame)
        #expect(try frameLength(bytes) == bytes.count)
        #expect(try decodeFrame(bytes) == frame)

        // Header: length excludes the header, flags are 0, channel is the
        // frame's (0 for hello and closeLink).
        let length = bytes[0..<4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
        let type = UInt16(bytes[4]) | UInt16(bytes[5]) << 8
        #expect(Int(length) == bytes.count - 12)
        #expect(type == frameType(of: frame).rawValue)
        #expect(bytes[6] == 0 && bytes[7] == 0)
        let channel = bytes[8..<12].reversed().reduce(0) { $0 << 8 | UInt32($1) }
        switch frame {
        case .hello, .closeLink, .regionInfo, .bufferRegister, .bufferUnregister, .registryReset, .laneOffer, .laneAttach: #expect(channel == 0)
        case .channelOpen(let c, _, _), .channelAccept(let c, _), .channelClose(let c, _, _), .data(let c, _, _, _),
             .creditUpdate(let c, _), .creditRequest(let c), .resourceOpen(let c, _, _, _), .resourceExtend(let c, _, _),
             .resourceUpdate(let c, _, _, _), .resourceClose(let c, _), .pipeData(let c, _, _), .pipeClose(let c, _), .laneMove(let c):
            #expect(channel == c)
        }
    }

    @Test func payloadSizesMatchTheSpec() {
        func payload(_ f: LinkFrame) -> Int { FrameCodec.encode(f).count - 12 }
        #expect(payload(.hello(version: 1, role: .guest, features: 0)) == 16)
        #expect(payload(.closeLink(code: 1, reason: "abc")) == 4 + 3)
        #expect(payload(.closeLink(code: 1, reason: "é")) == 4 + 2)
        #expect(payload(.channelOpen(channel: 1, bufAlloc: 1)) == 8)
        #expect(payload(.channelAccept(channel: 1, bufAlloc: 1)) == 8)
        #expect(payload(.channelClose(channel: 1, code: 0, reason: "closed")) == 4 + 6)
        #expect(payload(.data(channel: 1, credit: .init(bufAlloc: 0, fwdCnt: 0), resources: [1, 2], bytes: [0, 0, 0, 0, 0, 0, 0, 0])) == 12 + 8 + 8)
        #expect(payload(.creditUpdate(channel: 1, credit: .init(bufAlloc: 0, fwdCnt: 0))) == 8)
        #expect(payload(.creditRequest(channel: 1)) == 0)
        #expect(payload(.resourceOpen(channel: 1, resource: 1, kind: .pipe, size: 0)) == 16)
        #expect(payload(.resourceExtend(channel: 1, resource: 1, size: 0)) == 16)
        #expect(payload(.resourceUpdate(channel: 1, resource: 1, ranges: [.init(offset: 0, length: 3), .init(offset: 9, length: 1)], bytes: [1, 2, 3, 4])) == 8 + 32 + 4)
        #expect(payload(.resourceClose(channel: 1, resource: 1)) == 4)
        #expect(payload(.pipeData(channel: 1, resource: 1, bytes: [1, 2, 3])) == 4 + 3)
        #expect(payload(.pipeClose(channel: 1, resource: 1)) == 4)
        #expect(payload(.regionInfo(size: 1, tag: Array(repeating: 0, count: 16))) == 24)
        #expect(payload(.bufferRegister(BufferDescriptor(id: 1, application: "ab", ranges: [MemoryRange(offset: 0, length: 64)],
                                                         properties: [("w", "10")]))) == 24 + 16 + 2 + 4 + 1 + 2)
        #expect(payload(.bufferUnregister(id: 1)) == 4)
        #expect(payload(.registryReset) == 0)
        #expect(payload(.laneOffer(token: Array(repeating: 1, count: 16))) == 16)
        #expect(payload(.laneAttach(token: Array(repeating: 1, count: 16))) == 4 + 16)
        #expect(payload(.laneMove(channel: 1)) == 0)
    }

    @Test func registerCountsBeyondTheFrameAreMalformed() {
        // 1000 ranges announced, none present: refused before anything is allocated.
        var bytes = FrameCodec.encode(.bufferRegister(BufferDescriptor(id: 1, application: "a", ranges: [], properties: [])))
        bytes[12 + 16] = 0xE8; bytes[12 + 17] = 0x03
        let e = protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(bytes) }
        guard case .malformed(.bufferRegister, _)? = e else { Issue.record("\(String(describing: e))"); return }
    }

    @Test func exactBytesFromTheSpec() {
        #expect(FrameCodec.encode(.hello(version: 1, role: .guest, features: 0)) ==
            [0x10, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x48, 0x4C, 0x4B, 0x01, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(FrameCodec.encode(.creditRequest(channel: 5)) == [0, 0, 0, 0, 0x15, 0, 0, 0, 0x05, 0, 0, 0])
        // Little-endian fields in a resource update range.
        let update = FrameCodec.encode(.resourceUpdate(channel: 0x0102_0304, resource: 0xAABB_CCDD, ranges: [.init(offset: 0x1122_3344_5566_7788, length: 1)], bytes: [0xEE]))
        #expect(update == [
            0x19, 0, 0, 0, 0x22, 0, 0, 0, 0x04, 0x03, 0x02, 0x01,
            0xDD, 0xCC, 0xBB, 0xAA, 0x01, 0, 0, 0,
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x01, 0, 0, 0, 0, 0, 0, 0,
            0xEE,
        ])
    }

    @Test func encodeIntoAppends() throws {
        var out: [UInt8] = [9, 9, 9]
        FrameCodec.encode(.creditRequest(channel: 1), into: &out)
        FrameCodec.encode(.pipeClose(channel: 2, resource: 3), into: &out)
        #expect(Array(out[0..<3]) == [9, 9, 9])
        #expect(Array(out[3...]) == FrameCodec.encode(.creditRequest(channel: 1)) + FrameCodec.encode(.pipeClose(channel: 2, resource: 3)))
    }

    @Test func reservedFieldsAndFlagsAreIgnoredOnReceipt() throws {
        // Header flags and the channel of a hello.
        var hello = rawFrame(type: 1, channel: 77, flags: 0xFFFF, payload: helloPayload(role: 2, reserved: 0xAB, features: 5))
        #expect(try decodeFrame(hello) == .hello(version: 1, role: .host, features: 5))
        hello[6] = 0x12
        #expect(try decodeFrame(hello) == .hello(version: 1, role: .host, features: 5))
        // channelAccept reserved u32 (channelOpen's is the service, below).
        var open: [UInt8] = []
        open.le32(1000); open.le32(0xDEAD_BEEF)
        #expect(try decodeFrame(rawFrame(type: 17, channel: 3, payload: open)) == .channelAccept(channel: 3, bufAlloc: 1000))
        // data reserved u16.
        var data: [UInt8] = []
        data.le32(10); data.le32(20); data.le16(1); data.le16(0xFFFF); data.le32(99); data += [1, 2]
        #expect(try decodeFrame(rawFrame(type: 19, channel: 4, payload: data)) == .data(channel: 4, credit: .init(bufAlloc: 10, fwdCnt: 20), resources: [99], bytes: [1, 2]))
        // resourceExtend reserved u32.
        var extend: [UInt8] = []
        extend.le32(5); extend.le32(0xFFFF_FFFF); extend.le64(4096)
        #expect(try decodeFrame(rawFrame(type: 33, channel: 1, payload: extend)) == .resourceExtend(channel: 1, resource: 5, size: 4096))
        // Range reserved u32.
        var update: [UInt8] = []
        update.le32(5); update.le32(1); update.le64(8); update.le32(2); update.le32(0x1234_5678); update += [7, 7]
        #expect(try decodeFrame(rawFrame(type: 34, channel: 1, payload: update)) == .resourceUpdate(channel: 1, resource: 5, ranges: [.init(offset: 8, length: 2)], bytes: [7, 7]))
    }

    @Test func invalidUTF8ReasonsDecodeLeniently() throws {
        var payload: [UInt8] = []
        payload.le32(1)
        payload += [0x61, 0xFF, 0xC3, 0x62] // "a", invalid, truncated sequence, "b"
        let frame = try decodeFrame(rawFrame(type: 2, payload: payload))
        guard case .closeLink(let code, let reason) = frame else { Issue.record("got \(frame)"); return }
        #expect(code == 1)
        #expect(reason.hasPrefix("a") && reason.hasSuffix("b"))
        #expect(reason.contains("\u{FFFD}"))
    }

    @Test func aReasonOfInvalidUTF8IsNoLongerThanAReasonMayBe() throws {
        // Each invalid byte becomes U+FFFD, three bytes (found by fuzz-link-frames).
        var payload: [UInt8] = []
        payload.le32(1)
        payload += [UInt8](repeating: 0xFF, count: LinkLimits().maxReasonBytes)
        guard case .closeLink(_, let reason) = try decodeFrame(rawFrame(type: 2, payload: payload)) else { Issue.record("not a closeLink"); return }
        #expect(reason.utf8.count <= LinkLimits().maxReasonBytes)
        #expect(try decodeFrame(FrameCodec.encode(.closeLink(code: 1, reason: reason))) == .closeLink(code: 1, reason: reason))
    }
}

@Suite struct FrameCodecErrorTests {
    @Test func incompleteHeaderIsNotAnError() throws {
        let full = FrameCodec.encode(.pipeData(channel: 1, resource: 2, bytes: [1, 2, 3]))
        for n in 0..<12 { #expect(try frameLength(Array(full[0..<n])) == nil, "\(n) bytes") }
        // Even garbage needs a whole header before it is judged.
        #expect(try frameLength(Array(repeating: 0xFF, count: 11)) == nil)
        #expect(try frameLength(Array(full[0..<12])) == full.count)
    }

    @Test func unknownTypesAreRejectedFromTheHeader() throws {
        let known = Set(allFrameTypes.map(\.rawValue))
        var unknown: [UInt16] = [0, 6, 15, 23, 31, 38, 51, 0x100, 0x1300, 0xFFFF]
        unknown += (0...64).filter { !known.contains($0) }
        for t in unknown {
            let header = rawFrame(type: t, length: 4)
            #expect(protocolError { () throws(LinkProtocolError) in _ = try frameLength(header) } == .unknownFrameType(t))
            #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(header + [0, 0, 0, 0]) } == .unknownFrameType(t))
        }
        for t in known {
            #expect(try frameLength(rawFrame(type: t, length: 4)) == 16)
        }
    }

    @Test func oversizedPayloadIsRejectedFromTheHeaderAlone() throws {
        let limits = LinkLimits()
        #expect(limits.maxPayload == 1 << 20)
        let atLimit = rawFrame(type: FrameType.data.rawValue, length: UInt32(limits.maxPayload))
        #expect(try frameLength(atLimit) == 12 + limits.maxPayload)
        let over = rawFrame(type: FrameType.data.rawValue, length: UInt32(limits.maxPayload + 1))
        #expect(over.count == 12)
        #expect(protocolError { () throws(LinkProtocolError) in _ = try frameLength(over) } == .oversizedFrame(limits.maxPayload + 1, limit: limits.maxPayload))
        let huge = rawFrame(type: FrameType.pipeData.rawValue, length: .max)
        #expect(protocolError { () throws(LinkProtocolError) in _ = try frameLength(huge) } == .oversizedFrame(Int(UInt32.max), limit: limits.maxPayload))
        let message = protocolError { () throws(LinkProtocolError) in _ = try frameLength(over) }?.description ?? ""
        #expect(message.contains("exceeds"))

        var small = LinkLimits()
        small.maxPayload = 100
        #expect(try frameLength(rawFrame(type: 21, length: 100), limits: small) == 112)
        #expect(protocolError { () throws(LinkProtocolError) in _ = try frameLength(rawFrame(type: 21, length: 101), limits: small) } == .oversizedFrame(101, limit: 100))
        // And the encoder's own output is checked against the limit on decode.
        let big = FrameCodec.encode(.pipeData(channel: 1, resource: 1, bytes: Array(repeating: 0, count: 200)))
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(big, limits: small) } == .oversizedFrame(204, limit: 100))
    }

    @Test func decodeNeedsExactlyOneWholeFrame() {
        let frame = FrameCodec.encode(.resourceClose(channel: 1, resource: 2))
        for bytes in [Array(frame.dropLast()), frame + [0], Array(frame[0..<5])] {
            let e = protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(bytes) }
            guard case .unexpected = e else { Issue.record("\(bytes.count) bytes: \(String(describing: e))"); continue }
        }
    }

    /// Size of each type's fixed part, for one encoded sample.
    private func fixedPart(_ frame: LinkFrame) -> Int {
        switch frame {
        case .hello: return 16
        case .closeLink, .channelClose: return 4
        case .channelOpen, .channelAccept, .creditUpdate: return 8
        case .data(_, _, let resources, _): return 12 + 4 * resources.count
        case .creditRequest: return 0
        case .resourceOpen, .resourceExtend: return 16
        case .resourceUpdate(_, _, let ranges, let bytes): return 8 + 16 * ranges.count + bytes.count
        case .resourceClose, .pipeData, .pipeClose, .bufferUnregister: return 4
        case .regionInfo: return 24
        case .bufferRegister(let d): return FrameCodec.encode(.bufferRegister(d)).count - 12
        case .registryReset, .laneMove: return 0
        case .laneOffer: return 16
        case .laneAttach: return 20
        }
    }

    @Test(arguments: sampleFrames)
    func truncatedPayloadsAreMalformed(_ frame: LinkFrame) {
        let full = FrameCodec.encode(frame)
        let type = frameType(of: frame)
        let channel = UInt32(full[8]) | UInt32(full[9]) << 8 | UInt32(full[10]) << 16 | UInt32(full[11]) << 24
        let fixed = fixedPart(frame)
        // Skip the 1000-range sample's every-byte loop: check a spread of cuts.
        let cuts = fixed > 600 ? Array(stride(from: 0, to: fixed, by: 37)) + [fixed - 1] : Array(0..<fixed)
        for cut in cuts {
            let bytes = rawFrame(type: type.rawValue, channel: channel, payload: Array(full[12..<(12 + cut)]))
            let e = protocolError("\(type) cut to \(cut) of \(fixed) bytes") { () throws(LinkProtocolError) in _ = try decodeFrame(bytes) }
            #expect(e?.malformedType == type, "\(type) cut to \(cut): \(String(describing: e))")
        }
    }

    @Test func trailingBytesAfterFixedSizeFramesAreMalformed() {
        let fixedSize: [LinkFrame] = [
            .hello(version: 1, role: .guest, features: 0),
            .channelOpen(channel: 1, bufAlloc: 1),
            .channelAccept(channel: 1, bufAlloc: 1),
            .creditUpdate(channel: 1, credit: .init(bufAlloc: 1, fwdCnt: 1)),
            .creditRequest(channel: 1),
            .resourceOpen(channel: 1, resource: 1, kind: .shmPool, size: 1),
            .resourceExtend(channel: 1, resource: 1, size: 1),
            .resourceClose(channel: 1, resource: 1),
            .pipeClose(channel: 1, resource: 1),
            .resourceUpdate(channel: 1, resource: 1, ranges: [.init(offset: 0, length: 2)], bytes: [1, 2]),
        ]
        for frame in fixedSize {
            for extra in [1, 3, 100] {
                let full = FrameCodec.encode(frame)
                let bytes = rawFrame(type: frameType(of: frame).rawValue, channel: 1, payload: Array(full[12...]) + Array(repeating: 0, count: extra))
                let e = protocolError("\(frame) + \(extra)") { () throws(LinkProtocolError) in _ = try decodeFrame(bytes) }
                #expect(e?.malformedType == frameType(of: frame), "\(frame) + \(extra): \(String(describing: e))")
            }
        }
    }

    private func updatePayload(count: UInt32, ranges: [(UInt64, UInt32)], data: Int) -> [UInt8] {
        var p: [UInt8] = []
        p.le32(1); p.le32(count)
        for (o, l) in ranges { p.le64(o); p.le32(l); p.le32(0) }
        return p + Array(repeating: 0xAB, count: data)
    }

    @Test func updateDataMustMatchTheRanges() throws {
        let ranges: [(UInt64, UInt32)] = [(0, 4), (100, 6)]
        #expect(try decodeFrame(rawFrame(type: 34, channel: 1, payload: updatePayload(count: 2, ranges: ranges, data: 10)))
            == .resourceUpdate(channel: 1, resource: 1, ranges: [.init(offset: 0, length: 4), .init(offset: 100, length: 6)], bytes: Array(repeating: 0xAB, count: 10)))
        for data in [0, 9, 11, 1000] {
            let e = protocolError("\(data) data bytes") { () throws(LinkProtocolError) in
                _ = try decodeFrame(rawFrame(type: 34, channel: 1, payload: self.updatePayload(count: 2, ranges: ranges, data: data)))
            }
            #expect(e?.malformedType == .resourceUpdate)
        }
        // Range lengths that overflow when summed on 32 bits are still checked.
        let e = protocolError { () throws(LinkProtocolError) in
            _ = try decodeFrame(rawFrame(type: 34, channel: 1, payload: self.updatePayload(count: 2, ranges: [(0, .max), (0, 1)], data: 0)))
        }
        #expect(e?.malformedType == .resourceUpdate)
    }

    @Test func tooManyRangesAreMalformed() throws {
        var limits = LinkLimits()
        limits.maxRangesPerUpdate = 4
        let four = (0..<4).map { (UInt64($0), UInt32(1)) }
        _ = try decodeFrame(rawFrame(type: 34, channel: 1, payload: updatePayload(count: 4, ranges: four, data: 4)), limits: limits)
        let five = (0..<5).map { (UInt64($0), UInt32(1)) }
        let e = protocolError { () throws(LinkProtocolError) in
            _ = try decodeFrame(rawFrame(type: 34, channel: 1, payload: self.updatePayload(count: 5, ranges: five, data: 5)), limits: limits)
        }
        #expect(e?.malformedType == .resourceUpdate)
        // The default limit is 65536 (checked with a payload limit big enough
        // for that many ranges to fit).
        var roomy = LinkLimits()
        roomy.maxPayload = 4 << 20
        #expect(roomy.maxRangesPerUpdate == 65536)
        let many = updatePayload(count: 65537, ranges: Array(repeating: (0, 0), count: 65537), data: 0)
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(rawFrame(type: 34, channel: 1, payload: many), limits: roomy) }?.malformedType == .resourceUpdate)
        let exactly = updatePayload(count: 65536, ranges: Array(repeating: (0, 0), count: 65536), data: 0)
        guard case .resourceUpdate(_, _, let r, _) = try decodeFrame(rawFrame(type: 34, channel: 1, payload: exactly), limits: roomy) else { Issue.record("not an update"); return }
        #expect(r.count == 65536)
        // A count far beyond the payload is rejected before anything is allocated for it.
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(rawFrame(type: 34, channel: 1, payload: self.updatePayload(count: .max, ranges: [], data: 0))) }?.malformedType == .resourceUpdate)
    }

    private func dataPayload(count: UInt16, refs: Int, bytes: Int = 0) -> [UInt8] {
        var p: [UInt8] = []
        p.le32(0); p.le32(0); p.le16(count); p.le16(0)
        for i in 0..<refs { p.le32(UInt32(i)) }
        return p + Array(repeating: 0, count: bytes)
    }

    @Test func tooManyResourceReferencesAreMalformed() throws {
        #expect(LinkLimits().maxResourcesPerData == 255)
        guard case .data(_, _, let refs, _) = try decodeFrame(rawFrame(type: 19, channel: 1, payload: dataPayload(count: 255, refs: 255))) else {
            Issue.record("not data"); return
        }
        #expect(refs.count == 255)
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(rawFrame(type: 19, channel: 1, payload: self.dataPayload(count: 256, refs: 256))) }?.malformedType == .data)
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(rawFrame(type: 19, channel: 1, payload: self.dataPayload(count: .max, refs: 0))) }?.malformedType == .data)
        var limits = LinkLimits()
        limits.maxResourcesPerData = 2
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(rawFrame(type: 19, channel: 1, payload: self.dataPayload(count: 3, refs: 3, bytes: 8)), limits: limits) }?.malformedType == .data)
        // References that run past the end of the payload.
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(rawFrame(type: 19, channel: 1, payload: self.dataPayload(count: 5, refs: 4))) }?.malformedType == .data)
    }

    @Test func badHello() throws {
        let badMagic = rawFrame(type: 1, payload: helloPayload(magic: 0x4B4C_4851, role: 1))
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(badMagic) } == .badMagic(0x4B4C_4851))
        let bigEndianMagic = rawFrame(type: 1, payload: helloPayload(magic: LinkProtocol.magic.byteSwapped, role: 1))
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(bigEndianMagic) } == .badMagic(LinkProtocol.magic.byteSwapped))
        for role: UInt8 in [0, 3, 255] {
            let frame = rawFrame(type: 1, payload: helloPayload(role: role))
            #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(frame) } == .unknownRole(role))
        }
        // Version and features are passed through for the endpoint to judge.
        #expect(try decodeFrame(rawFrame(type: 1, payload: helloPayload(version: 0, role: 1))) == .hello(version: 0, role: .guest, features: 0))
    }

    @Test func unknownResourceKindIsMalformed() {
        var p: [UInt8] = []
        p.le32(1); p.le32(5); p.le64(0)
        #expect(protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(rawFrame(type: 32, channel: 1, payload: p)) }?.malformedType == .resourceOpen)
    }

    @Test func reasonsLongerThanTheLimitAreMalformed() throws {
        for type: UInt16 in [2, 18] {
            var ok: [UInt8] = []
            ok.le32(1)
            ok += Array(repeating: UInt8(ascii: "r"), count: 1024)
            _ = try decodeFrame(rawFrame(type: type, channel: 1, payload: ok))
            let e = protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(rawFrame(type: type, channel: 1, payload: ok + [UInt8(ascii: "r")])) }
            #expect(e?.malformedType == FrameType(rawValue: type))
        }
    }
}

@Suite struct FrameStreamTests {
    private func stream(_ frames: [LinkFrame]) -> [UInt8] {
        var out: [UInt8] = []
        for f in frames { FrameCodec.encode(f, into: &out) }
        return out
    }

    @Test func byteByByte() throws {
        var rng = SplitMix64(seed: 1)
        let frames = (0..<300).map { _ in randomFrame(using: &rng) }
        let bytes = stream(frames)
        let decoder = StreamDecoder()
        for b in bytes { try decoder.feed(CollectionOfOne(b)) }
        #expect(decoder.frames == frames)
        #expect(decoder.buffer.count == 0)
    }

    @Test func splitAtEveryByteBoundary() throws {
        var rng = SplitMix64(seed: 2)
        let frames = (0..<40).map { _ in randomFrame(using: &rng, maxBytes: 40) }
        let bytes = stream(frames)
        for split in 0...bytes.count {
            let decoder = StreamDecoder()
            try decoder.feed(bytes[0..<split])
            // Frames wholly before the split are already out.
            #expect(decoder.frames.count <= frames.count)
            try decoder.feed(bytes[split...])
            if decoder.frames != frames {
                Issue.record("split at \(split) of \(bytes.count): got \(decoder.frames.count) frames")
                return
            }
        }
    }

    @Test(arguments: [3, 4, 5])
    func randomChunksIncludingLargeFrames(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var frames = (0..<400).map { _ in randomFrame(using: &rng, maxBytes: 2000) }
        // A few big ones, so the buffer goes through its compaction paths.
        for i in stride(from: 0, to: 400, by: 50) {
            frames[i] = .pipeData(channel: 1, resource: 2, bytes: randomBytes(.random(in: 60_000...200_000, using: &rng), using: &rng))
        }
        let bytes = stream(frames)
        let decoder = StreamDecoder()
        var at = 0
        while at < bytes.count {
            let n = min(bytes.count - at, Int.random(in: 1...100_000, using: &rng))
            try decoder.feed(bytes[at..<(at + n)])
            at += n
        }
        #expect(decoder.frames.count == frames.count)
        #expect(decoder.frames == frames)
    }

    @Test func aBadFrameInTheMiddleStopsTheStream() {
        var bytes = stream([.creditRequest(channel: 1), .pipeClose(channel: 1, resource: 1)])
        bytes += rawFrame(type: 99, length: 0)
        bytes += stream([.creditRequest(channel: 2)])
        let decoder = StreamDecoder()
        let e = protocolError { () throws(LinkProtocolError) in try decoder.feed(bytes) }
        #expect(e == .unknownFrameType(99))
        #expect(decoder.frames == [.creditRequest(channel: 1), .pipeClose(channel: 1, resource: 1)])
    }
}

/// `writeUpdateHeader` and `decodeUpdateHead` (the gather-write and
/// receive-in-place paths) against `encode` and `decode`.
@Suite struct UpdateHeadTests {
    private let updates: [LinkFrame] = sampleFrames.filter { if case .resourceUpdate = $0 { return true } else { return false } }

    private func decodeHead(_ bytes: some Collection<UInt8>, limits: LinkLimits = LinkLimits()) throws(LinkProtocolError) -> FrameCodec.UpdateHead? {
        try Array(bytes).withUnsafeBytes { b in
            Result { () throws(LinkProtocolError) -> FrameCodec.UpdateHead? in try FrameCodec.decodeUpdateHead(b, limits: limits) }
        }.get()
    }

    @Test func writtenHeaderPlusDataIsTheEncodedFrame() {
        for frame in updates {
            // UpdateRun offsets are Ints: the sample reaching UInt64.max is not sent this way.
            guard case .resourceUpdate(let c, let r, let ranges, let data) = frame,
                  ranges.allSatisfy({ $0.offset <= UInt64(Int.max) }) else { continue }
            let runs = ranges.map { UpdateRun(offset: Int($0.offset), length: Int($0.length)) }
            var bytes = [UInt8](repeating: 0xEE, count: 12 + 8 + 16 * ranges.count)
            bytes.withUnsafeMutableBytes {
                FrameCodec.writeUpdateHeader(into: $0.baseAddress!, channel: c, resource: r, ranges: runs, dataBytes: data.count)
            }
            #expect(bytes + data == FrameCodec.encode(frame), "\(ranges.count) ranges")
        }
    }

    @Test func decodedHeadAgreesWithDecode() throws {
        for frame in updates {
            guard case .resourceUpdate(let c, let r, let ranges, _) = frame else { continue }
            let bytes = FrameCodec.encode(frame) + FrameCodec.encode(.creditRequest(channel: 1))
            let head = try decodeHead(bytes)
            #expect(head?.channel == c)
            #expect(head?.resource == r)
            #expect(head?.ranges == ranges)
            #expect(head?.headBytes == 12 + 8 + 16 * ranges.count)
        }
    }

    @Test func incompleteHeadsAndOtherFramesAreNil() throws {
        let frame = LinkFrame.resourceUpdate(channel: 1, resource: 7, ranges: [.init(offset: 0, length: 3), .init(offset: 9, length: 1)], bytes: [1, 2, 3, 4])
        let bytes = FrameCodec.encode(frame)
        let headBytes = 12 + 8 + 32
        for cut in 0..<headBytes {
            let head = try decodeHead(bytes[0..<cut])
            #expect(head == nil, "cut at \(cut)")
        }
        // The data need not have arrived.
        let head = try decodeHead(bytes[0..<headBytes])
        #expect(head?.headBytes == headBytes)
        let other = FrameCodec.encode(.pipeData(channel: 1, resource: 7, bytes: Array(repeating: 0, count: 64)))
        #expect(try decodeHead(other) == nil)
    }

    /// Both paths read the table with the same routine: the same errors.
    @Test func malformedHeadsFailAsDecodeFails() {
        var limits = LinkLimits()
        limits.maxRangesPerUpdate = 4
        func payload(count: UInt32, ranges: [(UInt64, UInt32)], data: Int) -> [UInt8] {
            var p: [UInt8] = []
            p.le32(1); p.le32(count)
            for (o, l) in ranges { p.le64(o); p.le32(l); p.le32(0) }
            return p + Array(repeating: 0xAB, count: data)
        }
        let bad = [
            payload(count: 5, ranges: (0..<5).map { (UInt64($0), 1) }, data: 5),
            payload(count: .max, ranges: [], data: 0),
            payload(count: 2, ranges: [(0, 4), (100, 6)], data: 9),
            payload(count: 2, ranges: [(0, .max), (0, 1)], data: 0),
        ]
        for p in bad {
            let frame = rawFrame(type: 34, channel: 1, payload: p)
            let fromDecode = protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(frame, limits: limits) }
            let fromHead = protocolError { () throws(LinkProtocolError) in
                _ = try self.decodeHead(frame, limits: limits)
            }
            #expect(fromDecode?.malformedType == .resourceUpdate)
            #expect(fromHead == fromDecode)
        }
    }
}
