/// A power over the host desktop that an ordinary application does not
/// need. Globals that grant one are hidden from a guest unless the host
/// allows it by name (`--allow NAME,...`); the guest has no say.
public enum Capability: String, CaseIterable, Sendable {
    /// Type into any host window (zwp_virtual_keyboard_v1).
    case virtualKeyboard = "virtual-keyboard"
    /// Move and click the host pointer anywhere (zwlr_virtual_pointer_v1).
    case virtualPointer = "virtual-pointer"
    /// Read and replace the host clipboard without focus (wlr and ext data-control).
    case dataControl = "data-control"
    /// Act as the host's input method.
    case inputMethod = "input-method"
    /// Read what the host screen shows (screencopy, dmabuf export, image capture).
    case screencopy = "screencopy"
    /// List and control every host window.
    case foreignToplevel = "foreign-toplevel"
    /// Draw panels and overlays above other windows.
    case layerShell = "layer-shell"
    /// Lock the host session.
    case sessionLock = "session-lock"
    /// Change outputs: modes, power, gamma.
    case outputManagement = "output-management"
    /// Take all input away from other clients.
    case inputInhibit = "input-inhibit"
    /// Keep the compositor's own shortcuts from working.
    case shortcutsInhibit = "shortcuts-inhibit"
    /// Learn when the host's user goes idle and comes back: a guest could
    /// time what the user does at the host. Idle daemons need it, ordinary
    /// applications do not (inhibiting idle, as video players do, is a
    /// different global and stays shown).
    case idleNotify = "idle-notify"

    /// The globals that grant it.
    public var globals: Set<String> {
        switch self {
        case .virtualKeyboard: return ["zwp_virtual_keyboard_manager_v1"]
        case .virtualPointer: return ["zwlr_virtual_pointer_manager_v1"]
        case .dataControl: return ["zwlr_data_control_manager_v1", "ext_data_control_manager_v1"]
        case .inputMethod: return ["zwp_input_method_manager_v2", "zwp_input_method_v1", "zwp_input_panel_v1"]
        case .screencopy:
            return ["zwlr_screencopy_manager_v1", "zwlr_export_dmabuf_manager_v1", "ext_image_copy_capture_manager_v1",
                    "ext_output_image_capture_source_manager_v1", "ext_foreign_toplevel_image_capture_source_manager_v1",
                    "weston_screenshooter", "treeland_capture_manager_v1"]
        case .foreignToplevel: return ["zwlr_foreign_toplevel_manager_v1", "ext_foreign_toplevel_list_v1"]
        case .layerShell: return ["zwlr_layer_shell_v1"]
        case .sessionLock: return ["ext_session_lock_manager_v1"]
        case .outputManagement:
            return ["zwlr_output_manager_v1", "zwlr_output_power_manager_v1", "zwlr_gamma_control_manager_v1"]
        case .inputInhibit: return ["zwlr_input_inhibit_manager_v1"]
        case .shortcutsInhibit: return ["zwp_keyboard_shortcuts_inhibit_manager_v1"]
        case .idleNotify: return ["ext_idle_notifier_v1", "org_kde_kwin_idle"]
        }
    }

    /// The capability a global grants, if any.
    public static func granted(byGlobal interface: String) -> Capability? {
        byGlobal[interface]
    }

    private static let byGlobal: [String: Capability] = {
        var map: [String: Capability] = [:]
        for c in allCases { for g in c.globals { map[g] = c } }
        return map
    }()
}
