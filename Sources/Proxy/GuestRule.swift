import PortholeSystem

/// One rule of a host's policy file (`--policy`): a guest whose link peer
/// is `peer` ("uid:N" for a unix socket's user, "vsock:CID", "tcp:ADDRESS",
/// or "*" for any) is named `name` and gets `policy`. The identity is the
/// kernel's, never the guest's word.
public struct GuestRule: Sendable, Equatable {
    public var peer: String
    public var name: String
    public var policy: GuestPolicy

    public init(peer: String, name: String, policy: GuestPolicy) {
        self.peer = peer
        self.name = name
        self.policy = policy
    }

    public func matches(_ identity: PeerIdentity) -> Bool { peer == "*" || peer == identity.description }
}
