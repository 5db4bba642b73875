/// Every interface the proxies know, by name: the generated built-in tables
/// plus any protocol loaded at start.
public final class ProtocolTables: @unchecked Sendable {
    // Built once at start-up and read-only afterwards; hence @unchecked Sendable.
    public private(set) var interfaces: [String: Interface] = [:]

    /// Tables with only the given interfaces.
    public init(_ list: [Interface] = []) {
        for i in list { interfaces[i.name] = i }
    }

    /// The tables generated from the system's protocol XML (see Generated/).
    public static let builtin: ProtocolTables = {
        let t = ProtocolTables()
        for (name, text) in GeneratedProtocols.sources {
            do { t.add(try SignatureText.parse(text)) } catch { fatalError("generated table \(name) is corrupt: \(error)") }
        }
        return t
    }()

    /// Adds interfaces; a later definition of the same name replaces the earlier one.
    public func add(_ list: [Interface]) {
        for i in list { interfaces[i.name] = i }
    }

    /// The interface named `name`, if known.
    public subscript(name: String) -> Interface? { interfaces[name] }

    /// wl_display, which every connection starts with.
    public var display: Interface {
        guard let d = interfaces["wl_display"] else { fatalError("tables lack wl_display") }
        return d
    }

    /// Interfaces reachable from `root` by new_id arguments (requests and events), root included.
    public func reachable(from root: Interface) -> [Interface] {
        var seen: Set<String> = [root.name]
        var stack = [root]
        var out: [Interface] = []
        while let i = stack.popLast() {
            out.append(i)
            for m in i.requests + i.events {
                for a in m.args where a.type == .newID || a.type == .object {
                    guard a.type == .newID, let name = a.interface, !seen.contains(name), let next = interfaces[name] else { continue }
                    seen.insert(name)
                    stack.append(next)
                }
            }
        }
        return out
    }
}
