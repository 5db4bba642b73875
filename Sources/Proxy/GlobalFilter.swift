import PortholeSystem
import Wayland

/// Which of the compositor's globals a guest sees: those its policy allows
/// (a global granting a capability only when the host allowed it) and whose
/// every reachable interface the proxies can carry, at no more than the
/// version the tables describe. Binds are held to what was shown.
struct GlobalFilter {
    /// Per registry: global name -> (interface, advertised version).
    private var exposed: [UInt32: [UInt32: (interface: String, version: UInt32)]] = [:]

    /// wl_registry.global from the compositor: nil hides it; else the event
    /// to forward (the version capped when the tables know less).
    mutating func global(_ e: WlRegistryGlobal, registry: UInt32, tables: ProtocolTables,
                         translations: FdTranslationTable, policy: GuestPolicy) -> WlRegistryGlobal? {
        let iface = String(decoding: e.interface, as: UTF8.self)
        guard policy.allows(global: iface) else {
            Log.debug("hiding global \(iface): it needs --allow \(Capability.granted(byGlobal: iface)?.rawValue ?? "?")")
            return nil
        }
        guard translations.mayExpose(global: iface, tables: tables), let known = tables[iface] else {
            Log.debug("hiding global \(iface) v\(e.version)")
            return nil
        }
        var shown = e
        shown.version = min(e.version, known.version)
        exposed[registry, default: [:]][e.name] = (iface, shown.version)
        return shown
    }

    /// wl_registry.global_remove: forwarded only for a global that was shown.
    func globalRemoveIsShown(_ e: WlRegistryGlobalRemove, registry: UInt32) -> Bool {
        exposed[registry]?[e.name] != nil
    }

    /// wl_registry.bind from the guest: only a shown global, as its interface, up to its version.
    func checkBind(_ r: WlRegistryBind, registry: UInt32) throws(MessageFault) {
        let iface = r.id.interfaceName
        // The guest's name for the interface, as it may appear in a log line.
        let named = LogText.escaped(r.id.interface, limit: 128, quoted: false)
        guard let global = exposed[registry]?[r.name] else {
            throw .display(.invalidObject, object: registry, "invalid global \(r.name) (\(named))")
        }
        guard global.interface == iface, r.id.version >= 1, r.id.version <= global.version else {
            throw .display(.invalidObject, object: registry, "bind of global \(r.name) as \(named) v\(r.id.version); it is \(global.interface) v\(global.version)")
        }
    }
}
