import Link

/// What the host lets all its guests together, and each guest's Wayland
/// connections, make it hold (the host-wide and per-channel rows of the
/// quota table in docs/ARCHITECTURE.md; the per-guest ones are `LinkLimits`).
public struct HostLimits: Sendable {
    /// Links served at once (`porthole host --max-guests`); a link beyond
    /// them is closed at once with a reason.
    public var maxGuests = 16
    /// Wayland objects alive on one channel, and on all of one guest's
    /// channels (`--guest-objects`); a request creating one more fails its channel.
    public var objectsPerChannel = 32768
    public var objectsPerGuest = 65536
    /// Descriptors held for all guests together; nil: the process's open
    /// file limit (raised to its hard limit, at most `fdCeiling`) less what
    /// is open when the proxy starts.
    public var totalFds: Int?
    /// Descriptors guests' resources never take (see `HostTotals`).
    public var fdReserve = 64
    /// Resource memory for all guests together (`--total-guest-memory`);
    /// nil: half the machine's memory.
    public var totalMemory: UInt64?

    /// Most descriptors counted host-wide: each memory resource is a mapping
    /// too, and the kernel allows a process 65530 of those by default.
    public static let fdCeiling = 32768

    public init() {}
}
