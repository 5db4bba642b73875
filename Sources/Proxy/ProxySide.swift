/// Which proxy a Wayland connection belongs to. The guest's local peer is a
/// client (its socket carries requests to the link); the host's is the
/// compositor (its socket carries events to the link).
enum ProxySide: Sendable, Equatable {
    case guest
    case host

    /// Whether messages read from the local socket are requests.
    var socketCarriesRequests: Bool { self == .guest }

    /// The local peer, for logs.
    var localPeer: String { self == .guest ? "client" : "compositor" }
}
