import Foundation

/// The messages in a client's `WAYLAND_DEBUG=1` output, as libwayland prints
/// them: `[time]  -> interface@id.request(args)` for what the client sent and
/// `[time] interface@id.event(args)` for what it received. Newer libwaylands
/// (the one Chromium carries) write `interface#id` and may put `{queue name}`
/// before an event; both forms are read. Lines that are no message (the app's
/// own output) are skipped.
struct WaylandDebugLog: Sendable {
    struct Message: Sendable, CustomStringConvertible {
        /// Sent by the client (a request), or received (an event).
        var isRequest: Bool
        var interface: String
        var objectID: Int
        var name: String
        /// The argument list as printed, without the parentheses.
        var arguments: String

        var description: String { "\(isRequest ? "-> " : "")\(interface)@\(objectID).\(name)(\(arguments))" }
    }

    let messages: [Message]

    init(_ text: String) {
        messages = text.split(separator: "\n").compactMap(WaylandDebugLog.parse)
    }

    /// The messages `name` on objects of `interface`, in order.
    func messages(_ interface: String, _ name: String) -> [Message] {
        messages.filter { $0.interface == interface && $0.name == name }
    }

    /// How many messages `name` on objects of `interface` there were.
    func count(_ interface: String, _ name: String) -> Int {
        messages.reduce(0) { $0 + ($1.interface == interface && $1.name == name ? 1 : 0) }
    }

    /// The interfaces the client bound from the registry (the quoted name in
    /// `wl_registry.bind(name, "interface", version, new id)`).
    var boundInterfaces: Set<String> {
        Set(messages("wl_registry", "bind").compactMap { bind in
            let parts = bind.arguments.split(separator: "\"", omittingEmptySubsequences: false)
            return parts.count >= 3 ? String(parts[1]) : nil
        })
    }

    /// One line: `[stamp] [{queue}] [-> ]interface@id.name(arguments)`.
    private static func parse(_ line: Substring) -> Message? {
        guard line.hasPrefix("["), let stampEnd = line.firstIndex(of: "]") else { return nil }
        var rest = line[line.index(after: stampEnd)...].drop { $0 == " " }
        if rest.hasPrefix("{"), let queueEnd = rest.firstIndex(of: "}") {
            rest = rest[rest.index(after: queueEnd)...].drop { $0 == " " }
        }
        let isRequest = rest.hasPrefix("->")
        if isRequest { rest = rest.dropFirst(2).drop { $0 == " " } }
        guard let open = rest.firstIndex(of: "("), rest.last == ")" else { return nil }
        let target = rest[..<open]
        guard let separator = target.firstIndex(where: { $0 == "@" || $0 == "#" }),
              let dot = target[separator...].firstIndex(of: "."),
              let id = Int(target[target.index(after: separator)..<dot])
        else { return nil }
        let interface = String(target[..<separator])
        let name = String(target[target.index(after: dot)...])
        guard !interface.isEmpty, !name.isEmpty,
              interface.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        return Message(isRequest: isRequest, interface: interface, objectID: id, name: name,
                       arguments: String(rest[rest.index(after: open)..<rest.index(before: rest.endIndex)]))
    }
}
