import Link
import Wayland

/// Which fd-carrying messages the proxies can translate. A global whose
/// interfaces (followed through new_id arguments) carry any other fd is hidden
/// from guest clients rather than forwarded blind.
public struct FdTranslationTable: Sendable {
    /// "interface.message" for requests, keyed separately from events.
    private var requests: [String: FdTranslation] = [:]
    private var events: [String: FdTranslation] = [:]

    /// The translations this version of Porthole implements.
    public static let standard: FdTranslationTable = {
        var t = FdTranslationTable()
        t.requests["wl_shm.create_pool"] = .shmPool
        // A buffer producer's memory file is replicated like a pool.
        t.requests["porthole_buffer_producer_v1.register"] = .shmPool
        // A buffer a consumer in a guest views is replicated like a pool, from the host.
        t.events["porthole_buffer_subscription_v1.buffer_added"] = .shmPool
        t.events["porthole_buffer_import_v1.buffer_added"] = .shmPool
        t.events["wl_keyboard.keymap"] = .readOnlyFile
        t.requests["zwp_virtual_keyboard_v1.keymap"] = .readOnlyFile
        t.events["zwp_input_method_keyboard_grab_v2.keymap"] = .readOnlyFile
        for offer in ["wl_data_offer", "zwp_primary_selection_offer_v1", "gtk_primary_selection_offer",
                      "zwlr_data_control_offer_v1", "ext_data_control_offer_v1"] {
            t.requests["\(offer).receive"] = .pipe
        }
        for source in ["wl_data_source", "zwp_primary_selection_source_v1", "gtk_primary_selection_source",
                       "zwlr_data_control_source_v1", "ext_data_control_source_v1"] {
            t.events["\(source).send"] = .pipe
        }
        return t
    }()

    /// The translation for a message's fds, or nil if it has none we can carry.
    public func translation(interface: String, message: String, isRequest: Bool) -> FdTranslation? {
        (isRequest ? requests : events)["\(interface).\(message)"]
    }

    /// Whether every fd-carrying message of `iface` can be translated.
    public func canTranslate(_ iface: Interface) -> Bool {
        for m in iface.requests where m.fdCount > 0 {
            guard m.fdCount == 1, translation(interface: iface.name, message: m.name, isRequest: true) != nil else { return false }
        }
        for m in iface.events where m.fdCount > 0 {
            guard m.fdCount == 1, translation(interface: iface.name, message: m.name, isRequest: false) != nil else { return false }
        }
        return true
    }

    /// Whether a global of interface `name` may be shown to guest clients:
    /// known to the tables, and nothing reachable from it carries an fd we
    /// cannot translate.
    public func mayExpose(global name: String, tables: ProtocolTables) -> Bool {
        guard let root = tables[name] else { return false }
        return tables.reachable(from: root).allSatisfy(canTranslate)
    }
}
