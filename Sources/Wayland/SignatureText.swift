/// The compact text form of protocol tables that `porthole-gen` writes and the
/// library reads at start. One line per item:
///
///     I wl_surface 6                        interface name and version
///     R attach 1 buffer=?o:wl_buffer x=i y=i
///     R! destroy 1                          a destructor request
///     E enter 1 output=o:wl_output          an event
///     N transform 0 1 2 3 4 5 6 7           an enumeration (values)
///     N| capability 1 2 4/5                 a bitfield; `/5`: since version 5
///     R set_buffer_transform 2 transform=i@wl_output.transform
///
/// Argument tokens: `i` int, `u` uint, `f` fixed, `s` string, `o` object,
/// `n` new_id, `a` array, `h` fd; `?` prefix = nullable; `:NAME` = interface;
/// `NAME=` prefix = the argument's name (letters, digits and `_`); `@ENUM`
/// suffix = the enumeration it holds. A token
/// without a name is accepted, for tables written before names were kept, and
/// gives the name "".
public enum SignatureText {
    /// A syntax error in signature text.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let line: Int
        public let reason: String
        public var description: String { "signature text line \(line): \(reason)" }
    }

    /// Serialises interfaces to signature text. `keepingEnums`: write only
    /// the enumerations named here (nil: all of them).
    public static func render(_ interfaces: [Interface], keepingEnums: Set<String>? = nil) -> String {
        var out = ""
        for iface in interfaces {
            out += "I \(iface.name) \(iface.version)\n"
            for m in iface.requests { out += line("R", m) }
            for m in iface.events { out += line("E", m) }
            for e in iface.enums where keepingEnums?.contains(e.name) ?? true { out += line(e) }
        }
        return out
    }

    private static func line(_ e: EnumSpec) -> String {
        var s = (e.isBitfield ? "N| " : "N ") + e.name.drop { $0 != "." }.dropFirst()
        for entry in e.entries { s += entry.since > 1 ? " \(entry.value)/\(entry.since)" : " \(entry.value)" }
        return s + "\n"
    }

    private static func line(_ kind: String, _ m: MessageSpec) -> String {
        var s = kind + (m.isDestructor ? "!" : "") + " \(m.name) \(m.since)"
        for a in m.args { s += " " + token(a) }
        return s + "\n"
    }

    static func token(_ a: ArgSpec) -> String {
        var t = a.nullable ? "?" : ""
        switch a.type {
        case .int: t += "i"
        case .uint: t += "u"
        case .fixed: t += "f"
        case .string: t += "s"
        case .object: t += "o"
        case .newID: t += "n"
        case .array: t += "a"
        case .fd: t += "h"
        }
        if let i = a.interface { t += ":" + i }
        if let e = a.enumName { t += "@" + e }
        return a.name.isEmpty ? t : a.name + "=" + t
    }

    /// Parses signature text into interfaces.
    public static func parse(_ text: String) throws(ParseError) -> [Interface] {
        var result: [Interface] = []
        var name: String?
        var version: UInt32 = 0
        var requests: [MessageSpec] = []
        var events: [MessageSpec] = []
        var enums: [EnumSpec] = []
        func finish() {
            if let n = name { result.append(Interface(name: n, version: version, requests: requests, events: events, enums: enums)) }
            name = nil
            requests = []
            events = []
            enums = []
        }
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let parts = raw.split(separator: " ")
            guard let kind = parts.first else { continue }
            if kind.hasPrefix("#") { continue }
            switch kind {
            case "I":
                guard parts.count == 3, let v = UInt32(parts[2]), v >= 1 else {
                    throw ParseError(line: lineNumber, reason: "expected 'I NAME VERSION'")
                }
                finish()
                name = String(parts[1])
                version = v
            case "R", "R!", "E", "E!":
                guard name != nil else { throw ParseError(line: lineNumber, reason: "message before any interface") }
                guard parts.count >= 3, let since = UInt32(parts[2]) else {
                    throw ParseError(line: lineNumber, reason: "expected '\(kind) NAME SINCE ARGS...'")
                }
                var args: [ArgSpec] = []
                for tok in parts.dropFirst(3) {
                    guard let a = argument(tok) else { throw ParseError(line: lineNumber, reason: "bad argument token '\(tok)'") }
                    args.append(a)
                }
                let m = MessageSpec(name: String(parts[1]), since: since, isDestructor: kind.hasSuffix("!"), args: args)
                if kind.hasPrefix("R") { requests.append(m) } else { events.append(m) }
            case "N", "N|":
                guard let n = name else { throw ParseError(line: lineNumber, reason: "enumeration before any interface") }
                guard parts.count >= 2, ArgSpec.isValidName(String(parts[1])) else {
                    throw ParseError(line: lineNumber, reason: "expected '\(kind) NAME VALUE[/SINCE]...'")
                }
                var entries: [EnumSpec.Entry] = []
                for tok in parts.dropFirst(2) {
                    let pieces = tok.split(separator: "/", omittingEmptySubsequences: false)
                    guard pieces.count <= 2, let value = UInt32(pieces[0]), let since = pieces.count == 2 ? UInt32(pieces[1]) : 1, since >= 1 else {
                        throw ParseError(line: lineNumber, reason: "bad enumeration value '\(tok)'")
                    }
                    entries.append(EnumSpec.Entry(value: value, since: since))
                }
                enums.append(EnumSpec(name: "\(n).\(parts[1])", isBitfield: kind == "N|", entries: entries))
            default:
                throw ParseError(line: lineNumber, reason: "unknown line kind '\(kind)'")
            }
        }
        finish()
        return result
    }

    private static func argument(_ tok: Substring) -> ArgSpec? {
        var t = tok
        var name = ""
        if let equals = t.firstIndex(of: "=") {
            name = String(t[..<equals])
            guard ArgSpec.isValidName(name) else { return nil }
            t = t[t.index(after: equals)...]
        }
        var enumName: String?
        if let at = t.firstIndex(of: "@") {
            let e = t[t.index(after: at)...]
            let parts = e.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ ArgSpec.isValidName(String($0)) }) else { return nil }
            enumName = String(e)
            t = t[..<at]
        }
        let nullable = t.hasPrefix("?")
        if nullable { t = t.dropFirst() }
        var iface: String?
        if let colon = t.firstIndex(of: ":") {
            iface = String(t[t.index(after: colon)...])
            if iface!.isEmpty { return nil }
            t = t[..<colon]
        }
        let type: ArgType
        switch t {
        case "i": type = .int
        case "u": type = .uint
        case "f": type = .fixed
        case "s": type = .string
        case "o": type = .object
        case "n": type = .newID
        case "a": type = .array
        case "h": type = .fd
        default: return nil
        }
        guard enumName == nil || type == .int || type == .uint else { return nil }
        return ArgSpec(type, name: name, interface: iface, nullable: nullable, enumName: enumName)
    }
}
