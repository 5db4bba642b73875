/// What one subscription of a consumer asks for: an application (or every
/// one, "*"), and one guest or every guest.
struct SubscriptionFilter: Equatable {
    let application: String
    /// Nil: every guest.
    let guest: String?

    /// The application name that stands for every application.
    static let everyApplication = "*"

    func matches(guest g: String) -> Bool { guest == nil || guest == g }
    func matches(application a: String) -> Bool { application == Self.everyApplication || application == a }
    func matches(guest g: String, application a: String) -> Bool { matches(application: a) && matches(guest: g) }
}
