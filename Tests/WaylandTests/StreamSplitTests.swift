import PortholeSystem
import SystemTestSupport
import Testing
import Wayland

/// A stream of random messages, cut at every byte boundary and fed to a
/// `ReadBuffer` in two pieces, must come out as the same messages.
@Suite struct StreamSplitTests {
    /// One message of the stream as it was generated.
    private struct Original {
        var header: MessageHeader
        var spec: MessageSpec
        var args: [WireArg]
    }

    private func randomBytes(_ count: Int, nonZero: Bool, _ rng: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: (nonZero ? 1 : 0)...255, using: &rng) }
    }

    private func randomArg(_ a: ArgSpec, _ names: [String], _ rng: inout SplitMix64) -> WireArg {
        switch a.type {
        case .int: return .int(Int32.random(in: .min ... .max, using: &rng))
        case .uint: return .uint(UInt32.random(in: .min ... .max, using: &rng))
        case .fixed: return .fixed(Int32.random(in: .min ... .max, using: &rng))
        case .string:
            if a.nullable && Int.random(in: 0..<4, using: &rng) == 0 { return .string(nil) }
            return .string(randomBytes(Int.random(in: 0...24, using: &rng), nonZero: true, &rng))
        case .object:
            if a.nullable && Int.random(in: 0..<4, using: &rng) == 0 { return .object(0) }
            return .object(UInt32.random(in: 1 ... .max, using: &rng))
        case .newID:
            let id = UInt32.random(in: 1 ... .max, using: &rng)
            guard a.interface == nil else { return .newID(id) }
            let name = names.randomElement(using: &rng)!
            return .untypedNewID(interface: Array(name.utf8), version: UInt32.random(in: 1...9, using: &rng), id: id)
        case .array: return .array(randomBytes(Int.random(in: 0...24, using: &rng), nonZero: false, &rng))
        case .fd: return .fd
        }
    }

    /// `count` random messages of random builtin interfaces, and their bytes.
    private func makeStream(count: Int, seed: UInt64) -> (originals: [Original], stream: [UInt8]) {
        var rng = SplitMix64(seed: seed)
        let interfaces = builtinInterfaces.filter { !$0.requests.isEmpty || !$0.events.isEmpty }
        let names = interfaces.map(\.name)
        var originals: [Original] = []
        var stream: [UInt8] = []
        while originals.count < count {
            let iface = interfaces.randomElement(using: &rng)!
            let useRequests = iface.events.isEmpty || (!iface.requests.isEmpty && Bool.random(using: &rng))
            let list = useRequests ? iface.requests : iface.events
            let opcode = Int.random(in: 0..<list.count, using: &rng)
            let args = list[opcode].args.map { randomArg($0, names, &rng) }
            let objectID = UInt32.random(in: 1 ... .max, using: &rng)
            let bytes = WireCodec.encode(objectID: objectID, opcode: UInt16(opcode), args)
            guard bytes.count <= Wire.maxMessageSize else { continue }
            originals.append(Original(header: MessageHeader(objectID: objectID, opcode: UInt16(opcode), size: bytes.count), spec: list[opcode], args: args))
            stream += bytes
        }
        return (originals, stream)
    }

    /// Takes every whole message out of `buffer`, checking each against the
    /// next original; returns a description of the first mismatch, if any.
    private func drain(_ buffer: ReadBuffer, _ originals: [Original], _ next: inout Int) -> String? {
        while true {
            let step: Result<Bool, WireError> = buffer.withUnconsumed { raw in
                guard let header = MessageHeader.peek(raw) else { return .success(false) }
                do throws(WireError) {
                    try header.validate()
                    guard raw.count >= header.size else { return .success(false) }
                    guard next < originals.count else { return .success(false) }
                    let original = originals[next]
                    let args = try WireCodec.decode(UnsafeRawBufferPointer(rebasing: raw[0..<header.size]), original.spec)
                    guard header == original.header, args == original.args else { return .failure(.trailingBytes(-1)) }
                    return .success(true)
                } catch {
                    return .failure(error)
                }
            }
            switch step {
            case .success(true):
                buffer.consume(originals[next].header.size)
                next += 1
            case .success(false):
                return nil
            case .failure(let error):
                return "message \(next) (\(originals[next].spec.name)): \(error)"
            }
        }
    }

    @Test func randomStreamSplitAtEveryByteBoundary() {
        let (originals, stream) = makeStream(count: 300, seed: 0x00C0_FFEE)
        // Message boundaries, to know how many messages each prefix holds.
        var ends: [Int] = []
        var offset = 0
        for o in originals { offset += o.header.size; ends.append(offset) }
        var failures = 0
        for split in 0...stream.count {
            let buffer = ReadBuffer()
            var next = 0
            buffer.append(stream[0..<split])
            var problem = drain(buffer, originals, &next)
            let whole = ends.prefix { $0 <= split }.count
            if problem == nil && next != whole { problem = "prefix held \(whole) whole messages, \(next) came out" }
            if problem == nil {
                buffer.append(stream[split...])
                problem = drain(buffer, originals, &next)
            }
            if problem == nil && (next != originals.count || buffer.count != 0) {
                problem = "\(next) of \(originals.count) messages came out, \(buffer.count) bytes left"
            }
            if let problem {
                failures += 1
                if failures <= 5 { Issue.record("split at byte \(split): \(problem)") }
            }
        }
        #expect(failures == 0)
        #expect(stream.count > 3000, "the stream should be long enough to matter")
    }
}
