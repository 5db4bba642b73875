/// What the host grants one guest beyond what an ordinary application
/// needs, and how its windows are marked. Set by the host's command line;
/// nothing a guest sends changes it.
public struct GuestPolicy: Sendable, Equatable {
    /// Capabilities allowed on top of the default (none).
    public var allowed: Set<Capability>
    public var clipboard: ClipboardDirection
    /// Show toplevel titles as "[name] title".
    public var labelTitles: Bool

    public init(allowed: Set<Capability> = [], clipboard: ClipboardDirection = .both, labelTitles: Bool = true) {
        self.allowed = allowed
        self.clipboard = clipboard
        self.labelTitles = labelTitles
    }

    /// Whether a global may be shown: unless it grants a capability, yes;
    /// else only when that capability is allowed.
    public func allows(global interface: String) -> Bool {
        guard let needed = Capability.granted(byGlobal: interface) else { return true }
        return allowed.contains(needed)
    }
}
