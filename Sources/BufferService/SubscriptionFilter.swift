/// What one subscription of a consumer asks for: an application, and one
/// guest or every guest.
struct SubscriptionFilter: Equatable {
    let application: String
    /// Nil: every guest.
    let guest: String?

    func matches(guest g: String) -> Bool { guest == nil || guest == g }
    func matches(guest g: String, application a: String) -> Bool { application == a && matches(guest: g) }
}
