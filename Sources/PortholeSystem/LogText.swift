/// Text from a peer (a guest's close reason, a client's string) made safe
/// for a log line: every byte outside printable ASCII is escaped, so it can
/// neither start a forged line nor reach a terminal as an escape sequence,
/// and long text is cut with its full length noted. (A peer's own `…` is
/// escaped, so the note cannot be forged.)
public enum LogText {
    public static func escaped(_ bytes: some Collection<UInt8>, limit: Int = 256, quoted: Bool = true) -> String {
        var out = quoted ? "\"" : ""
        for b in bytes.prefix(limit) {
            switch b {
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\t"): out += "\\t"
            case UInt8(ascii: "\r"): out += "\\r"
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "\""): out += "\\\""
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\x" + (b < 0x10 ? "0" : "") + String(b, radix: 16)
            }
        }
        if quoted { out += "\"" }
        if bytes.count > limit { out += "…(\(bytes.count) bytes)" }
        return out
    }

    /// `text` escaped the same way.
    public static func escaped(_ text: String, limit: Int = 256, quoted: Bool = true) -> String {
        escaped(Array(text.utf8), limit: limit, quoted: quoted)
    }
}
