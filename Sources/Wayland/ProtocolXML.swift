import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Reads Wayland protocol XML (the format of wayland.xml and wayland-protocols)
/// into interfaces. Descriptions are ignored; only what the wire needs is kept.
public enum ProtocolXML {
    /// A protocol file that cannot be used.
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public let file: String
        public let reason: String
        public var description: String { "\(file): \(reason)" }
    }

    /// Parses one protocol XML document.
    public static func parse(_ data: Data, file: String = "<xml>") throws(LoadError) -> (protocol: String, interfaces: [Interface]) {
        let delegate = Collector()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        let ok = parser.parse()
        if let failure = delegate.failure { throw LoadError(file: file, reason: failure) }
        guard ok else {
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "malformed XML"
            throw LoadError(file: file, reason: "XML error at line \(parser.lineNumber): \(reason)")
        }
        if let open = delegate.openElements.last { throw LoadError(file: file, reason: "<\(open)> is never closed") }
        // FoundationXML stops quietly at a second root element; insist that
        // nothing but space and comments follows the root's closing tag.
        if let root = delegate.rootName, !onlySpaceAfterClosingTag(root, in: data) {
            throw LoadError(file: file, reason: "content after the closing </\(root)>")
        }
        guard let name = delegate.protocolName else { throw LoadError(file: file, reason: "no <protocol> element") }
        guard !delegate.interfaces.isEmpty else { throw LoadError(file: file, reason: "no <interface> elements") }
        return (name, delegate.interfaces)
    }

    /// Reads and parses a protocol XML file.
    public static func load(path: String) throws(LoadError) -> (protocol: String, interfaces: [Interface]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw LoadError(file: path, reason: "cannot read file") }
        return try parse(data, file: path)
    }

    private static func onlySpaceAfterClosingTag(_ root: String, in data: Data) -> Bool {
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.range(of: "</\(root)>", options: .backwards) else {
            // A self-closed root: there is no closing tag to look behind.
            return true
        }
        var rest = text[close.upperBound...]
        while true {
            rest = rest.drop { $0.isWhitespace }
            guard rest.hasPrefix("<!--") else { break }
            guard let end = rest.range(of: "-->") else { return false }
            rest = rest[end.upperBound...]
        }
        return rest.isEmpty
    }

    private final class Collector: NSObject, XMLParserDelegate {
        var protocolName: String?
        var interfaces: [Interface] = []
        var failure: String?
        /// Elements opened and not yet closed, outermost first.
        var openElements: [String] = []
        private var sawRoot = false
        /// Name of the document's root element.
        var rootName: String?
        private var iface: (name: String, version: UInt32)?
        private var requests: [MessageSpec] = []
        private var events: [MessageSpec] = []
        private var message: MessageSpec?
        private var messageIsRequest = true
        private var enums: [EnumSpec] = []
        private var openEnum: (spec: EnumSpec, since: UInt32)?

        func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
            guard failure == nil else { return }
            if openElements.isEmpty {
                guard !sawRoot else { fail(parser, "a second root element <\(element)>"); return }
                sawRoot = true
                rootName = element
            }
            openElements.append(element)
            switch element {
            case "protocol":
                protocolName = a["name"]
            case "interface":
                guard let name = a["name"], let vs = a["version"], let v = UInt32(vs), v >= 1 else {
                    fail(parser, "interface without a valid name and version"); return
                }
                iface = (name, v)
                requests = []
                events = []
                enums = []
            case "request", "event":
                guard iface != nil, let name = a["name"] else { fail(parser, "\(element) without a name or outside an interface"); return }
                var since: UInt32 = 1
                if let s = a["since"] {
                    guard let v = UInt32(s), v >= 1 else { fail(parser, "bad since='\(s)' on \(name)"); return }
                    since = v
                }
                message = MessageSpec(name: name, since: since, isDestructor: a["type"] == "destructor", args: [])
                messageIsRequest = element == "request"
            case "arg":
                guard message != nil else { fail(parser, "<arg> outside a message"); return }
                let type: ArgType
                switch a["type"] ?? "" {
                case "int": type = .int
                case "uint": type = .uint
                case "fixed": type = .fixed
                case "string": type = .string
                case "object": type = .object
                case "new_id": type = .newID
                case "array": type = .array
                case "fd": type = .fd
                default: fail(parser, "unknown arg type '\(a["type"] ?? "")' in \(message!.name)"); return
                }
                guard let name = a["name"], ArgSpec.isValidName(name) else {
                    fail(parser, "argument of \(message!.name) without a valid name (letters, digits and _)"); return
                }
                // A bare enum name is the interface's own.
                let enumName = type == .int || type == .uint ? a["enum"].map { $0.contains(".") ? $0 : "\(iface!.name).\($0)" } : nil
                message!.args.append(ArgSpec(type, name: name, interface: a["interface"], nullable: a["allow-null"] == "true",
                                             enumName: enumName))
            case "enum":
                guard let i = iface, let name = a["name"], ArgSpec.isValidName(name) else { fail(parser, "enum without a valid name or outside an interface"); return }
                guard let since = a["since"].map({ UInt32($0) }) ?? 1, since >= 1 else { fail(parser, "bad since on enum \(name)"); return }
                openEnum = (EnumSpec(name: "\(i.name).\(name)", isBitfield: a["bitfield"] == "true", entries: []), since)
            case "entry":
                guard let e = openEnum else { fail(parser, "<entry> outside an enum"); return }
                guard let text = a["value"], let value = Self.number(text) else {
                    fail(parser, "entry of \(e.spec.name) without a valid value"); return
                }
                guard let since = a["since"].map({ UInt32($0) }) ?? 1, since >= 1 else { fail(parser, "bad since on an entry of \(e.spec.name)"); return }
                openEnum!.spec.entries.append(EnumSpec.Entry(value: value, since: max(since, e.since)))
            default:
                break
            }
        }

        func parser(_ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?) {
            guard failure == nil else { return }
            guard openElements.last == element else {
                fail(parser, "</\(element)> closes <\(openElements.last ?? "nothing")>")
                return
            }
            openElements.removeLast()
            switch element {
            case "request", "event":
                if let m = message { if messageIsRequest { requests.append(m) } else { events.append(m) } }
                message = nil
            case "enum":
                if let e = openEnum { enums.append(e.spec) }
                openEnum = nil
            case "interface":
                if let i = iface {
                    interfaces.append(Interface(name: i.name, version: i.version, requests: requests, events: events, enums: enums))
                }
                iface = nil
            default:
                break
            }
        }

        /// An entry's value: decimal or 0x-prefixed hexadecimal, 32 bits.
        static func number(_ text: String) -> UInt32? {
            if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt32(text.dropFirst(2), radix: 16) }
            return UInt32(text)
        }

        private func fail(_ parser: XMLParser, _ reason: String) {
            failure = "line \(parser.lineNumber): \(reason)"
            parser.abortParsing()
        }
    }
}
