import PortholeSystem
import Wayland

/// Holds a guest's clipboard to its `ClipboardDirection`, on wl_data_device
/// and both primary selection protocols. Into the guest: the compositor's
/// `selection` events reach it as "no selection", and the offers they named
/// cannot be read. Out of the guest: its `set_selection` requests never reach
/// the compositor. Drag and drop is a gesture of its own and is not gated.
struct ClipboardGate {
    let direction: ClipboardDirection
    /// Offers the compositor named as a selection that the guest may not read.
    private var withheld: Set<UInt32> = []

    init(direction: ClipboardDirection) { self.direction = direction }

    /// A `selection` event from the compositor: when the guest may not see
    /// host copies, it becomes "no selection".
    mutating func filterSelection(_ m: inout ParsedMessage) {
        guard !direction.toGuestAllowed else { return }
        switch m.spec.kind {
        case .wlDataDeviceSelection?:
            guard let e = WlDataDeviceSelection(m.args), e.id != 0 else { return }
            withheld.insert(e.id)
            m.rewrite(WlDataDeviceSelection(id: 0))
        case .zwpPrimarySelectionDeviceV1Selection?:
            guard let e = ZwpPrimarySelectionDeviceV1Selection(m.args), e.id != 0 else { return }
            withheld.insert(e.id)
            m.rewrite(ZwpPrimarySelectionDeviceV1Selection(id: 0))
        case .gtkPrimarySelectionDeviceSelection?:
            guard let e = GtkPrimarySelectionDeviceSelection(m.args), e.id != 0 else { return }
            withheld.insert(e.id)
            m.rewrite(GtkPrimarySelectionDeviceSelection(id: 0))
        default:
            return
        }
    }

    /// Whether a guest request is a `set_selection` that must not reach the compositor.
    func dropsRequest(_ m: ParsedMessage) -> Bool {
        guard !direction.fromGuestAllowed else { return false }
        switch m.spec.kind {
        case .wlDataDeviceSetSelection?, .zwpPrimarySelectionDeviceV1SetSelection?, .gtkPrimarySelectionDeviceSetSelection?:
            return true
        default:
            return false
        }
    }

    /// A `receive` on an offer the guest was never shown as the selection.
    func checkReceive(offer: UInt32) throws(MessageFault) {
        guard withheld.contains(offer) else { return }
        throw .invalidMethod(offer, "the host's clipboard is not shared with this guest (--clipboard \(direction.rawValue))")
    }

    /// An offer object went away (its id may be reused).
    mutating func offerDestroyed(_ offer: UInt32) { withheld.remove(offer) }
}
