/// One rule of what the host's own programs publish that consumers in
/// guests may see (`porthole host --buffers-to-guest APP[@GUEST],...`): the
/// buffers of one application (or every one, "*"), for one guest (named as
/// the host names it) or every guest. Without a rule a guest consumer sees
/// only buffers granted to its guest.
public struct GuestBufferAccess: Equatable, Sendable, CustomStringConvertible {
    public let application: String
    /// Nil: every guest.
    public let guest: String?

    public init(application: String, guest: String?) {
        self.application = application
        self.guest = guest
    }

    /// Parses `APP` or `APP@GUEST`; nil when either part is empty.
    public init?(parsing text: String) {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let app = parts.first, !app.isEmpty else { return nil }
        if parts.count == 2 {
            guard !parts[1].isEmpty else { return nil }
            self.init(application: app, guest: parts[1])
        } else {
            self.init(application: app, guest: nil)
        }
    }

    public func allows(application a: String, to g: String) -> Bool {
        (application == SubscriptionFilter.everyApplication || application == a) && (guest == nil || guest == g)
    }

    public var description: String { guest.map { "\(application)@\($0)" } ?? application }
}
