import Foundation

/// One global as wayland-info lists it.
struct WaylandGlobal: Hashable, Sendable {
    let interface: String
    let version: Int
    let name: Int
}

/// The globals in wayland-info's output, in order, from lines like
/// `interface: 'wl_compositor', version: 4, name: 1`.
func parseWaylandInfoGlobalList(_ text: String) -> [WaylandGlobal] {
    var result: [WaylandGlobal] = []
    for line in text.split(whereSeparator: \.isNewline) {
        guard let start = line.range(of: "interface: '") else { continue }
        let rest = line[start.upperBound...]
        guard let quote = rest.firstIndex(of: "'") else { continue }
        let interface = String(rest[..<quote])
        let after = rest[rest.index(after: quote)...]
        guard let version = integer(after: "version:", in: after) else { continue }
        let name = integer(after: "name:", in: after) ?? 0
        result.append(WaylandGlobal(interface: interface, version: version, name: name))
    }
    return result
}

/// wayland-info's globals as [interface: version]; an interface listed more
/// than once (several wl_outputs) maps to its highest version.
func parseWaylandInfoGlobals(_ text: String) -> [String: Int] {
    var result: [String: Int] = [:]
    for global in parseWaylandInfoGlobalList(text) {
        result[global.interface] = max(result[global.interface] ?? 0, global.version)
    }
    return result
}

private func integer(after label: String, in text: Substring) -> Int? {
    guard let range = text.range(of: label) else { return nil }
    let digits = text[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
    return Int(digits)
}
