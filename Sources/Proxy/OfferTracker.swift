import PortholeSystem
import Wayland

/// The mime types the compositor announced for each clipboard and
/// drag-and-drop offer, so that a guest asking for another type is logged
/// (not an error: the source decides what to write, but a well-behaved
/// client only asks for a type it was offered).
struct OfferTracker {
    private var offered: [UInt32: Set<[UInt8]>] = [:]
    /// Receives of types never offered that were logged; a guest asking
    /// again and again fills no log with them.
    private var logged = 0
    static let maxLogged = 8

    /// Types kept per offer: a compositor announcing thousands is not helped by more.
    static let maxTypes = 1024

    /// The offer interfaces, whose `offer` events announce types and whose `receive` requests ask for one.
    static let interfaces: Set<String> = ["wl_data_offer", "zwp_primary_selection_offer_v1", "gtk_primary_selection_offer",
                                          "zwlr_data_control_offer_v1", "ext_data_control_offer_v1"]

    /// The type an `offer` event of an offer interface announces.
    private static func announcedType(_ m: ParsedMessage) -> [UInt8]? {
        switch m.spec.kind {
        case .wlDataOfferOffer?: return WlDataOfferOffer(m.args)?.mimeType
        case .zwpPrimarySelectionOfferV1Offer?: return ZwpPrimarySelectionOfferV1Offer(m.args)?.mimeType
        case .gtkPrimarySelectionOfferOffer?: return GtkPrimarySelectionOfferOffer(m.args)?.mimeType
        case .zwlrDataControlOfferV1Offer?: return ZwlrDataControlOfferV1Offer(m.args)?.mimeType
        case .extDataControlOfferV1Offer?: return ExtDataControlOfferV1Offer(m.args)?.mimeType
        default: return nil
        }
    }

    /// The type a `receive` request of an offer interface asks for.
    private static func requestedType(_ m: ParsedMessage) -> [UInt8]? {
        switch m.spec.kind {
        case .wlDataOfferReceive?: return WlDataOfferReceive(m.args)?.mimeType
        case .zwpPrimarySelectionOfferV1Receive?: return ZwpPrimarySelectionOfferV1Receive(m.args)?.mimeType
        case .gtkPrimarySelectionOfferReceive?: return GtkPrimarySelectionOfferReceive(m.args)?.mimeType
        case .zwlrDataControlOfferV1Receive?: return ZwlrDataControlOfferV1Receive(m.args)?.mimeType
        case .extDataControlOfferV1Receive?: return ExtDataControlOfferV1Receive(m.args)?.mimeType
        default: return nil
        }
    }

    /// Whether `m` destroys an offer.
    static func isDestroy(_ m: ParsedMessage) -> Bool {
        switch m.spec.kind {
        case .wlDataOfferDestroy?, .zwpPrimarySelectionOfferV1Destroy?, .gtkPrimarySelectionOfferDestroy?,
             .zwlrDataControlOfferV1Destroy?, .extDataControlOfferV1Destroy?: return true
        default: return false
        }
    }

    /// Whether `m` asks an offer for its data.
    static func isReceive(_ m: ParsedMessage) -> Bool { requestedType(m) != nil }

    /// An event from the compositor: new offers start with no types; `offer` adds one.
    mutating func event(_ m: ParsedMessage) {
        // The compositor may reuse the id of an offer destroyed earlier.
        for (spec, arg) in zip(m.spec.args, m.args) {
            if case .newID(let offer) = arg, let iface = spec.interface, Self.interfaces.contains(iface) {
                offered[offer] = []
            }
        }
        guard let mime = Self.announcedType(m) else { return }
        if offered[m.sender, default: []].count < Self.maxTypes { offered[m.sender, default: []].insert(mime) }
    }

    /// A request from the guest: logs a receive for a type never offered; forgets destroyed offers.
    mutating func request(_ m: ParsedMessage, channelName: @autoclosure () -> String) {
        if let mime = Self.requestedType(m), offered[m.sender]?.contains(mime) != true {
            logged += 1
            if logged <= Self.maxLogged {
                Log.warning("\(channelName()): \(m.target.interface.name)@\(m.sender).\(m.spec.name) asks for \(MessageTrace.escaped(mime)), which was never offered; passing it on\(logged == Self.maxLogged ? " (no more of these are logged for this client)" : "")")
            }
        } else if Self.isDestroy(m) {
            offered.removeValue(forKey: m.sender)
        }
    }
}
