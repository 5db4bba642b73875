/// The compact text form of protocol tables that `porthole-gen` writes and the
/// library reads at start. One line per item:
///
///     I wl_surface 6                        interface name and version
///     R attach 1 buffer=?o:wl_buffer x=i y=i
///     R! destroy 1                          a destructor request
///     E enter 1 output=o:wl_output          an event
///
/// Argument tokens: `i` int, `u` uint, `f` fixed, `s` string, `o` object,
/// `n` new_id, `a` array, `h` fd; `?` prefix = nullable; `:NAME` = interface;
/// `NAME=` prefix = the argument's name (letters, digits and `_`). A token
/// without a name is accepted, for tables written before names were kept, and
/// gives the name "".
public enum SignatureText {
    /// A syntax error in signature text.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let line: Int
        public let reason: String
        public var description: String { "signature text line \(line): \(reason)" }
    }

    /// Serialises interfaces to signature text.
    public static func render(_ interfaces: [Interface]) -> String {
        var out = ""
        for iface in interfaces {
            out += "I \(iface.name) \(iface.version)\n"
            for m in iface.requests { out += line("R", m) }
            for m in iface.events { out += line("E", m) }
        }
        return out
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
        return a.name.isEmpty ? t : a.name + "=" + t
    }

    /// Parses signature text into interfaces.
    public static func parse(_ text: String) throws(ParseError) -> [Interface] {
        var result: [Interface] = []
        var name: String?
        var version: UInt32 = 0
        var requests: [MessageSpec] = []
        var events: [MessageSpec] = []
        func finish() {
            if let n = name { result.append(Interface(name: n, version: version, requests: requests, events: events)) }
            name = nil
            requests = []
            events = []
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
        return ArgSpec(type, name: name, interface: iface, nullable: nullable)
    }
}
