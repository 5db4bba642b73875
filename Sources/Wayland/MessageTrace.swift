import PortholeSystem

/// A message as one line of text, in the manner of WAYLAND_DEBUG but with
/// argument names: `wl_surface@3.attach(buffer: wl_buffer@5, x: 0, y: 0)`.
///
/// Strings come from the peer (a guest client, say), so every byte outside
/// printable ASCII is escaped and long strings are cut: a string must not be
/// able to start a forged log line or reach a terminal as an escape sequence.
public enum MessageTrace {
    /// Longest string shown in full; the rest is counted, not shown.
    static let maxStringBytes = 256

    /// The line for `args` of message `spec` sent to or by `objectID`, an
    /// `interface`. Names and object interfaces come from `spec`; an argument
    /// beyond `spec` (which a decoded message never has) is shown unnamed.
    public static func describe(objectID: UInt32, interface: Interface, spec: MessageSpec, args: [WireArg]) -> String {
        var parts: [String] = []
        parts.reserveCapacity(args.count)
        for (index, arg) in args.enumerated() {
            let argSpec = index < spec.args.count ? spec.args[index] : nil
            let value = describe(arg, objectInterface: argSpec?.interface)
            if let name = argSpec?.name, !name.isEmpty { parts.append("\(name): \(value)") } else { parts.append(value) }
        }
        return "\(interface.name)@\(objectID).\(spec.name)(\(parts.joined(separator: ", ")))"
    }

    private static func describe(_ arg: WireArg, objectInterface: String?) -> String {
        // libwayland's spelling for an object whose interface it does not know.
        let interface = objectInterface ?? "[unknown]"
        switch arg {
        case .int(let v): return "\(v)"
        case .uint(let v): return "\(v)"
        case .fixed(let raw): return "\(Fixed(raw: raw).doubleValue)"
        case .string(nil): return "nil"
        case .string(let bytes?): return escaped(bytes, quoted: true)
        case .object(0): return "nil"
        case .object(let id): return "\(interface)@\(id)"
        case .newID(let id): return "new id \(interface)@\(id)"
        case .untypedNewID(let name, let version, let id): return "new id \(escaped(name, quoted: false))@\(id) v\(version)"
        case .array(let bytes): return "array[\(bytes.count) bytes]"
        case .fd: return "fd"
        }
    }

    /// A peer's bytes for a log line (see `LogText.escaped`).
    public static func escaped(_ bytes: [UInt8], quoted: Bool = true) -> String {
        LogText.escaped(bytes, limit: maxStringBytes, quoted: quoted)
    }
}
