/// Decodes and encodes message bodies against a `MessageSpec`.
public enum WireCodec {
    /// Decodes the arguments of a whole message (header included in `message`).
    public static func decode(_ message: UnsafeRawBufferPointer, _ spec: MessageSpec) throws(WireError) -> [WireArg] {
        var r = Reader(bytes: message, offset: Wire.headerSize)
        var out: [WireArg] = []
        out.reserveCapacity(spec.args.count)
        for index in spec.args.indices {
            // What went wrong is named only when something did: this loop
            // runs for every argument of every message both proxies read.
            do throws(Problem) {
                out.append(try decodeArgument(&r, type: spec.args[index].type, nullable: spec.args[index].nullable,
                                              untyped: spec.args[index].interface == nil))
            } catch {
                throw error.wireError("argument \(index) of \(spec.name)")
            }
        }
        if r.offset != message.count { throw .trailingBytes(message.count - r.offset) }
        return out
    }

    private static func decodeArgument(_ r: inout Reader, type: ArgType, nullable: Bool, untyped: Bool) throws(Problem) -> WireArg {
        switch type {
        case .int: return .int(Int32(bitPattern: try r.word()))
        case .uint: return .uint(try r.word())
        case .fixed: return .fixed(Int32(bitPattern: try r.word()))
        case .object:
            let v = try r.word()
            if v == 0 && !nullable { throw .nullNotAllowed }
            return .object(v)
        case .newID:
            if untyped {
                guard let iface = try r.string() else { throw .nullInterfaceName }
                let version = try r.word()
                let id = try r.word()
                if id == 0 { throw .nullNotAllowed }
                return .untypedNewID(interface: iface, version: version, id: id)
            }
            let v = try r.word()
            if v == 0 { throw .nullNotAllowed }
            return .newID(v)
        case .string:
            let s = try r.string()
            if s == nil && !nullable { throw .nullNotAllowed }
            return .string(s)
        case .array: return .array(try r.array())
        case .fd: return .fd
        }
    }

    /// What is wrong with one argument, before it is named.
    private enum Problem: Error {
        case truncated, notTerminated, embeddedNUL, nullNotAllowed, nullInterfaceName

        func wireError(_ what: String) -> WireError {
            switch self {
            case .truncated: return .truncated(what)
            case .notTerminated: return .badString("\(what) is not NUL-terminated")
            case .embeddedNUL: return .badString("\(what) has an embedded NUL")
            case .nullNotAllowed: return .nullNotAllowed(what)
            case .nullInterfaceName: return .nullNotAllowed("interface name of \(what)")
            }
        }
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

        mutating func word() throws(Problem) -> UInt32 {
            guard bytes.count - offset >= 4 else { throw .truncated }
            let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            offset += 4
            return v
        }

        mutating func string() throws(Problem) -> [UInt8]? {
            let length = Int(try word())
            if length == 0 { return nil }
            let padded = (length + 3) & ~3
            guard padded <= bytes.count - offset else { throw .truncated }
            guard bytes[offset + length - 1] == 0 else { throw .notTerminated }
            let s = Array(bytes[offset..<(offset + length - 1)])
            if s.contains(0) { throw .embeddedNUL }
            offset += padded
            return s
        }

        mutating func array() throws(Problem) -> [UInt8] {
            let length = Int(try word())
            let padded = (length + 3) & ~3
            guard length <= bytes.count, padded <= bytes.count - offset else { throw .truncated }
            let a = Array(bytes[offset..<(offset + length)])
            offset += padded
            return a
        }
    }
}
