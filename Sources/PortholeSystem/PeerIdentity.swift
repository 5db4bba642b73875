import CPorthole
import Glibc

/// Who is at the other end of a link socket, as the kernel tells it (never
/// as the peer claims): a unix socket's user, a vsock peer's context id, a
/// TCP peer's address. The host names and trusts guests by it.
public enum PeerIdentity: Equatable, Sendable, CustomStringConvertible {
    case unix(uid: UInt32)
    case vsock(cid: UInt32)
    case ip(String)
    /// A character device, or a family with no identity to give.
    case unknown

    /// "uid:N", "vsock:CID", "tcp:ADDRESS" or "unknown": the form policy rules name peers by.
    public var description: String {
        switch self {
        case .unix(let uid): return "uid:\(uid)"
        case .vsock(let cid): return "vsock:\(cid)"
        case .ip(let address): return "tcp:\(address)"
        case .unknown: return "unknown"
        }
    }

    /// The identity of `socket`'s peer.
    public static func of(_ socket: OwnedFD) -> PeerIdentity {
        var uid: UInt32 = 0
        var cid: UInt32 = 0
        var address = [CChar](repeating: 0, count: 64)
        let family = porthole_peer_identity(socket.rawValue, &uid, &cid, &address, address.count)
        switch family {
        case AF_UNIX: return .unix(uid: uid)
        case AF_VSOCK: return .vsock(cid: cid)
        case AF_INET, AF_INET6:
            return .ip(String(decoding: address.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        default: return .unknown
        }
    }
}
