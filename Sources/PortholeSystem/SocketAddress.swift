/// Where a link (or any stream socket) lives. One of:
///
/// - `unix:PATH`: a unix stream socket;
/// - `tcp:HOST:PORT`: TCP (HOST may be `[v6addr]`);
/// - `vsock:CID:PORT`: AF_VSOCK; CID is a number, `host` (2) or `any`
///   (VMADDR_CID_ANY, for listening only);
/// - `vsock-mux:PATH:PORT`: "hybrid vsock", the host end of a Firecracker or
///   cloud-hypervisor style VMM: connect to the VMM's unix socket at PATH,
///   send `CONNECT PORT\n`, wait for `OK ...\n`, then the stream reaches the
///   guest's vsock port PORT (connect only);
/// - `file:PATH`: a character device, such as a virtio-serial port
///   (`/dev/vport0p1`), used as one byte stream (opened, never listened on).
public enum SocketAddress: Equatable, Sendable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: UInt16)
    case vsock(cid: UInt32, port: UInt32)
    case vsockMux(path: String, port: UInt32)
    case file(path: String)

    /// VMADDR_CID_ANY: listen on every CID of this machine.
    public static let vsockAnyCID: UInt32 = 0xFFFF_FFFF
    /// The host's CID (VMADDR_CID_HOST).
    public static let vsockHostCID: UInt32 = 2
    /// Largest usable vsock port (0xFFFFFFFF is VMADDR_PORT_ANY).
    public static let vsockMaxPort: UInt32 = 0xFFFF_FFFE

    /// Errors from parsing an address string.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let text: String
        public let reason: String
        public var description: String { "bad address '\(text)': \(reason)" }
    }

    static let forms = "unix:PATH, tcp:HOST:PORT, vsock:CID:PORT, vsock-mux:PATH:PORT or file:PATH"

    /// Parses any of the forms above.
    public init(parsing text: String) throws(ParseError) {
        func fail(_ reason: String) -> ParseError { ParseError(text: text, reason: reason) }
        func unixPath(_ path: String) throws(ParseError) -> String {
            guard !path.isEmpty else { throw fail("empty path") }
            guard path.utf8.count < 108 else { throw fail("unix socket path longer than 107 bytes") }
            return path
        }
        func isDigits(_ s: Substring) -> Bool { !s.isEmpty && s.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        func vsockPort(_ digits: Substring) throws(ParseError) -> UInt32 {
            guard isDigits(digits), let port = UInt32(digits), port != 0, port <= Self.vsockMaxPort else {
                throw fail("vsock port must be 1...\(Self.vsockMaxPort)")
            }
            return port
        }

        if text.hasPrefix("unix:") {
            self = .unix(path: try unixPath(String(text.dropFirst(5))))
        } else if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":") else { throw fail("expected tcp:HOST:PORT") }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw fail("empty host") }
            guard let port = UInt16(rest[rest.index(after: colon)...]), port != 0 else {
                throw fail("port must be 1...65535")
            }
            self = .tcp(host: host, port: port)
        } else if text.hasPrefix("vsock:") {
            let parts = text.dropFirst(6).split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw fail("expected vsock:CID:PORT") }
            let cid: UInt32
            switch parts[0] {
            case "any": cid = Self.vsockAnyCID
            case "host": cid = Self.vsockHostCID
            default:
                guard isDigits(parts[0]), let n = UInt32(parts[0]), n != Self.vsockAnyCID else {
                    throw fail("vsock CID must be 0...\(Self.vsockAnyCID - 1), 'host' or 'any'")
                }
                cid = n
            }
            self = .vsock(cid: cid, port: try vsockPort(parts[1]))
        } else if text.hasPrefix("vsock-mux:") {
            let rest = text.dropFirst(10)
            guard let colon = rest.lastIndex(of: ":") else { throw fail("expected vsock-mux:PATH:PORT") }
            let path = try unixPath(String(rest[..<colon]))
            self = .vsockMux(path: path, port: try vsockPort(rest[rest.index(after: colon)...]))
        } else if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw fail("empty path") }
            self = .file(path: path)
        } else {
            throw fail("unknown transport (expected \(Self.forms))")
        }
    }

    /// Whether this address can be listened on (`file:` and `vsock-mux:`
    /// can only be connected to).
    public var canListen: Bool {
        switch self {
        case .unix, .tcp, .vsock: return true
        case .vsockMux, .file: return false
        }
    }

    /// Whether this address can be connected to (`vsock:any:PORT` cannot).
    public var canConnect: Bool {
        if case .vsock(let cid, _) = self { return cid != Self.vsockAnyCID }
        return true
    }

    public var description: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let host, let port): return host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        case .vsock(let cid, let port): return "vsock:\(cid == Self.vsockAnyCID ? "any" : String(cid)):\(port)"
        case .vsockMux(let path, let port): return "vsock-mux:\(path):\(port)"
        case .file(let path): return "file:\(path)"
        }
    }
}
