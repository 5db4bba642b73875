import Proxy
import Testing
import Wayland

/// The clipboard and keyboard protocols clipboard tools and wtype use are
/// shown to guest clients: every fd they carry has a translation.
@Suite struct ClipboardExposureTests {
    @Test(arguments: ["zwlr_data_control_manager_v1", "ext_data_control_manager_v1", "zwp_virtual_keyboard_manager_v1",
                      "wl_data_device_manager", "zwp_primary_selection_device_manager_v1",
                      "gtk_primary_selection_device_manager", "wl_seat"])
    func globalIsExposed(name: String) {
        #expect(FdTranslationTable.standard.mayExpose(global: name, tables: .builtin))
    }

    @Test func pipesAndKeymapsHaveTheirTranslations() {
        let t = FdTranslationTable.standard
        for prefix in ["zwlr", "ext"] {
            #expect(t.translation(interface: "\(prefix)_data_control_offer_v1", message: "receive", isRequest: true) == .pipe)
            #expect(t.translation(interface: "\(prefix)_data_control_source_v1", message: "send", isRequest: false) == .pipe)
        }
        for (offer, source) in [("zwp_primary_selection_offer_v1", "zwp_primary_selection_source_v1"),
                                ("gtk_primary_selection_offer", "gtk_primary_selection_source"),
                                ("wl_data_offer", "wl_data_source")] {
            #expect(t.translation(interface: offer, message: "receive", isRequest: true) == .pipe)
            #expect(t.translation(interface: source, message: "send", isRequest: false) == .pipe)
        }
        #expect(t.translation(interface: "zwp_virtual_keyboard_v1", message: "keymap", isRequest: true) == .readOnlyFile)
        #expect(t.translation(interface: "wl_keyboard", message: "keymap", isRequest: false) == .readOnlyFile)
    }

    @Test func aGlobalUnknownToTheTablesIsHidden() throws {
        #expect(!FdTranslationTable.standard.mayExpose(global: "zwlr_output_power_manager_v1", tables: .builtin))
    }
}
