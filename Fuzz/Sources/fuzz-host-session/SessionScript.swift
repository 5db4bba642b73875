import FuzzSupport
import Link
import Wayland

/// Link frames a guest might send, built from the input: channel and
/// resource frames with small ids (so that they meet), and data frames whose
/// Wayland requests are mostly what a client sends first (get_registry,
/// binds, surfaces, pools, buffers), each with the next id of its channel,
/// or any bytes at all.
struct SessionScript {
    private var input: FuzzInput
    /// The next new id of each channel's client.
    private var nextID: [UInt32: UInt32] = [:]
    private static let credit = LinkFrame.Credit(bufAlloc: 1 << 20, fwdCnt: 0)
    private static let interfaces = LoopCompositor.globals.map(\.interface)

    init(_ input: inout FuzzInput) { self.input = input }

    mutating func frames() -> [UInt8] {
        var out: [UInt8] = []
        while !input.isEmpty && out.count < 1 << 20 {
            out += FrameCodec.encode(frame())
        }
        return out
    }

    private mutating func channel() -> UInt32 { UInt32(1 + input.below(4)) }
    private mutating func resource() -> UInt32 { input.below(8) == 0 ? input.u32() : UInt32(1 + input.below(8)) }

    private mutating func id(on c: UInt32) -> UInt32 {
        let id = nextID[c, default: 2]
        nextID[c] = id + 1
        return id
    }

    private mutating func frame() -> LinkFrame {
        switch input.below(16) {
        case 0, 1: return .channelOpen(channel: channel(), bufAlloc: input.byte() == 0 ? input.u32() : 1 << 20)
        case 2:
            let c = channel()
            nextID[c] = nil
            return .channelClose(channel: c, code: UInt32(input.below(4)), reason: String(decoding: input.run(upTo: 16), as: UTF8.self))
        case 3: return .creditUpdate(channel: channel(), credit: .init(bufAlloc: input.u32(), fwdCnt: input.u32()))
        case 4: return .creditRequest(channel: channel())
        case 5:
            let kind = ResourceKind(rawValue: UInt32(input.below(5))) ?? .shmPool
            let size: UInt64 = input.below(4) == 0 ? input.u64() : UInt64(input.below(17)) * 4096
            return .resourceOpen(channel: channel(), resource: resource(), kind: kind, size: kind == .pipe && input.byte() != 0 ? 0 : size)
        case 6: return .resourceExtend(channel: channel(), resource: resource(), size: UInt64(input.below(33)) * 4096)
        case 7:
            let ranges = (0..<(1 + input.below(3))).map { _ in UpdateRange(offset: UInt64(input.u16()), length: UInt32(input.below(512))) }
            return .resourceUpdate(channel: channel(), resource: resource(), ranges: ranges,
                                   bytes: [UInt8](repeating: input.byte(), count: ranges.reduce(0) { $0 + Int($1.length) }))
        case 8: return .resourceClose(channel: channel(), resource: resource())
        case 9: return .pipeData(channel: channel(), resource: resource(), bytes: input.run(upTo: 256))
        case 10: return .pipeClose(channel: channel(), resource: resource())
        default:
            let c = channel()
            var bytes: [UInt8] = []
            var refs: [UInt32] = []
            for _ in 0..<(1 + input.below(6)) {
                let (message, fds) = request(on: c)
                bytes += message
                refs += fds
            }
            return .data(channel: c, credit: Self.credit, resources: refs, bytes: bytes)
        }
    }

    /// One Wayland request for channel `c`, and the resources for its fds.
    private mutating func request(on c: UInt32) -> ([UInt8], [UInt32]) {
        func wl(_ object: UInt32, _ opcode: UInt16, _ args: [WireArg]) -> [UInt8] { WireCodec.encode(objectID: object, opcode: opcode, args) }
        let object = UInt32(1 + input.below(12))
        switch input.below(10) {
        case 0: return (wl(1, 1, [.newID(id(on: c))]), [])                       // get_registry
        case 1: return (wl(1, 0, [.newID(id(on: c))]), [])                       // sync
        case 2:
            // Mostly a global as it was announced, sometimes as another.
            let index = input.below(Self.interfaces.count)
            let name = UInt32(1 + index)
            let iface = input.below(8) == 0 ? Self.interfaces[input.below(Self.interfaces.count)] : Self.interfaces[index]
            return (wl(2, 0, [.uint(name), .untypedNewID(interface: Array(iface.utf8), version: UInt32(input.below(7)), id: id(on: c))]), [])
        case 3: return (wl(object, 0, [.newID(id(on: c))]), [])                  // create_surface, get_... on some object
        case 4: return (wl(object, 0, [.newID(id(on: c)), .fd, .int(Int32(input.below(9)) * 4096)]), [resource()])  // create_pool
        case 5:                                                                  // create_buffer
            return (wl(object, 0, [.newID(id(on: c)), .int(Int32(input.u16())), .int(Int32(input.below(80))), .int(Int32(input.below(80))),
                                   .int(Int32(input.u16())), .uint(input.below(4) == 0 ? input.u32() : UInt32(input.below(2)))]), [])
        case 6: return (wl(object, 1, [.object(UInt32(input.below(14))), .int(0), .int(0)]), [])   // attach
        case 7: return (wl(object, UInt16(input.below(8)), []), [])               // commit, destroy, ...
        case 8: return (wl(object, 1, [.text(String(decoding: input.run(upTo: 24), as: UTF8.self)), .fd]), [resource()])  // receive
        default:
            // Any bytes with a well-formed header.
            let body = input.run(upTo: 64)
            var m = wl(object, UInt16(input.below(12)), [])
            m += body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
            let size = UInt32(m.count)
            m[6] = UInt8(size & 0xFF)
            m[7] = UInt8(size >> 8)
            return (m, input.below(4) == 0 ? [resource()] : [])
        }
    }
}
