/// Decodes and encodes message bodies against a `MessageSpec`.
public enum WireCodec {
    /// Decodes the arguments of a whole message (header included in `message`).
    public static func decode(_ message: UnsafeRawBufferPointer, _ spec: MessageSpec) throws(WireError) -> [WireArg] {
        var r = Reader(bytes: message, offset: Wire.headerSize)
        var out: [WireArg] = []
        out.reserveCapacity(spec.args.count)
        for (index, a) in spec.args.enumerated() {
            let what = "argument \(index) of \(spec.name)"
            switch a.type {
            case .int: out.append(.int(Int32(bitPattern: try r.word(what))))
            case .uint: out.append(.uint(try r.word(what)))
            case .fixed: out.append(.fixed(Int32(bitPattern: try r.word(what))))
            case .object:
                let v = try r.word(what)
                if v == 0 && !a.nullable { throw .nullNotAllowed(what) }
                out.append(.object(v))
            case .newID:
                if a.interface == nil {
                    guard let iface = try r.string(what) else { throw .nullNotAllowed("interface name of \(what)") }
                    let version = try r.word(what)
                    let id = try r.word(what)
                    if id == 0 { throw .nullNotAllowed(what) }
                    out.append(.untypedNewID(interface: iface, version: version, id: id))
                } else {
                    let v = try r.word(what)
                    if v == 0 { throw .nullNotAllowed(what) }
                    out.append(.newID(v))
                }
            case .string:
                let s = try r.string(what)
                if s == nil && !a.nullable { throw .nullNotAllowed(what) }
                out.append(.string(s))
            case .array: out.append(.array(try r.array(what)))
            case .fd: out.append(.fd)
            }
        }
        if r.offset != message.count { throw .trailingBytes(message.count - r.offset) }
        return out
    }

    /// Encodes a whole message (header and arguments). Fd arguments add no bytes.
    public static func encode(objectID: UInt32, opcode: UInt16, _ args: [WireArg]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        appendWord(&out, objectID)
        appendWord(&out, 0)
        for a in args {
            switch a {
            case .int(let v), .fixed(let v): appendWord(&out, UInt32(bitPattern: v))
            case .uint(let v), .object(let v), .newID(let v): appendWord(&out, v)
            case .string(let s): appendString(&out, s)
            case .untypedNewID(let iface, let version, let id):
                appendString(&out, iface)
                appendWord(&out, version)
                appendWord(&out, id)
            case .array(let bytes):
                appendWord(&out, UInt32(bytes.count))
                out.append(contentsOf: bytes)
                while out.count % 4 != 0 { out.append(0) }
            case .fd: break
            }
        }
        let word = UInt32(out.count) << 16 | UInt32(opcode)
        withUnsafeBytes(of: word.littleEndian) { for i in 0..<4 { out[4 + i] = $0[i] } }
        return out
    }

    private static func appendWord(_ out: inout [UInt8], _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func appendString(_ out: inout [UInt8], _ s: [UInt8]?) {
        guard let s else { appendWord(&out, 0); return }
        appendWord(&out, UInt32(s.count + 1))
        out.append(contentsOf: s)
        out.append(0)
        while out.count % 4 != 0 { out.append(0) }
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset: Int

        mutating func word(_ what: String) throws(WireError) -> UInt32 {
            guard bytes.count - offset >= 4 else { throw .truncated(what) }
            let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            offset += 4
            return v
        }

        mutating func string(_ what: String) throws(WireError) -> [UInt8]? {
            let length = Int(try word(what))
            if length == 0 { return nil }
            let padded = (length + 3) & ~3
            guard padded <= bytes.count - offset else { throw .truncated(what) }
            guard bytes[offset + length - 1] == 0 else { throw .badString("\(what) is not NUL-terminated") }
            let s = Array(bytes[offset..<(offset + length - 1)])
            if s.contains(0) { throw .badString("\(what) has an embedded NUL") }
            offset += padded
            return s
        }

        mutating func array(_ what: String) throws(WireError) -> [UInt8] {
            let length = Int(try word(what))
            let padded = (length + 3) & ~3
            guard length <= bytes.count, padded <= bytes.count - offset else { throw .truncated(what) }
            let a = Array(bytes[offset..<(offset + length)])
            offset += padded
            return a
        }
    }
}
