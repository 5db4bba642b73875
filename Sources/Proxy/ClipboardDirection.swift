/// Which way clipboard contents may cross between a guest and the host
/// (`--clipboard`), on the ordinary wl_data_device path and on primary
/// selection alike. Data-control is a capability of its own.
public enum ClipboardDirection: String, CaseIterable, Sendable {
    case both
    /// Host copies reach the guest; the guest cannot set the host's clipboard.
    case toGuest = "to-guest"
    /// The guest may set the host's clipboard; host copies never reach it.
    case fromGuest = "from-guest"
    case none

    /// Whether the guest may see and paste what the host copied.
    public var toGuestAllowed: Bool { self == .both || self == .toGuest }
    /// Whether the guest may set the host's selection.
    public var fromGuestAllowed: Bool { self == .both || self == .fromGuest }
}
