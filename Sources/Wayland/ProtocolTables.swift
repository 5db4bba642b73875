/// Every interface the proxies know, by name: the generated built-in tables
/// plus any protocol loaded at start.
public final class ProtocolTables: @unchecked Sendable {
    // Built once at start-up and read-only afterwards; hence @unchecked Sendable.
    public private(set) var interfaces: [String: Interface] = [:]

    /// Tables with only the given interfaces.
    public init(_ list: [Interface] = []) {
        add(list)
    }

    /// The tables generated from the system's protocol XML (see Generated/).
    public static let builtin: ProtocolTables = {
        var all: [Interface] = []
        for (name, text) in GeneratedProtocols.sources {
            do { all += try SignatureText.parse(text) } catch { fatalError("generated table \(name) is corrupt: \(error)") }
        }
        return ProtocolTables(all)
    }()

    /// Adds interfaces; a later definition of the same name replaces the
    /// earlier one. Then every argument naming an enumeration that the
    /// tables hold gets it (`ArgSpec.enumeration`).
    public func add(_ list: [Interface]) {
        for i in list { interfaces[i.name] = i }
        resolveEnums()
    }

    /// Enumerations not checked: wl_shm formats are checked against what
    /// the compositor advertised instead (the host's `ShmPolicy`), and a
    /// compositor may advertise formats newer than these tables.
    public static let openEnums: Set<String> = ["wl_shm.format"]

    private func resolveEnums() {
        var all: [String: EnumSpec] = [:]
        for i in interfaces.values { for e in i.enums { all[e.name] = e } }
        for (name, i) in interfaces where i.requests.contains(where: { $0.args.contains { $0.enumName != nil } }) {
            let requests = i.requests.map { m in
                var m = m
                for k in m.args.indices {
                    guard let n = m.args[k].enumName, !Self.openEnums.contains(n), let e = all[n] else { continue }
                    m.args[k].enumeration = e.interface == name ? e : e.withoutVersions
                }
                return m
            }
            interfaces[name] = Interface(name: name, version: i.version, requests: requests, events: i.events, enums: i.enums)
        }
    }

    /// Separate tables holding the same interfaces, for adding to without
    /// changing these (the shared `builtin` in particular).
    public func copy() -> ProtocolTables {
        ProtocolTables(Array(interfaces.values))
    }

    /// A copy of these tables with every interface of the protocol XML files
    /// at `paths` added, in order (a later definition of a name wins, over
    /// the built-in one too). Throws, naming the file, if one cannot be read
    /// or parsed, or if a message of it names an interface that neither the
    /// tables nor any of the files define. These tables are left unchanged.
    public func adding(protocolFiles paths: [String]) throws(ProtocolXML.LoadError) -> ProtocolTables {
        let merged = copy()
        var loaded: [(path: String, interfaces: [Interface])] = []
        for path in paths {
            let (_, list) = try ProtocolXML.load(path: path)
            merged.add(list)
            loaded.append((path, list))
        }
        // Checked once all files are in, so files may refer to each other.
        for (path, list) in loaded {
            for iface in list {
                for m in iface.requests + iface.events {
                    for a in m.args {
                        if let name = a.interface, merged[name] == nil {
                            throw ProtocolXML.LoadError(
                                file: path, reason: "\(iface.name).\(m.name) refers to interface \(name), which no protocol defines")
                        }
                    }
                }
            }
        }
        return merged
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
