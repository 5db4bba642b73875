/// Where a stream socket lives: `unix:PATH` or `tcp:HOST:PORT`.
public enum SocketAddress: Equatable, Sendable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: UInt16)

    /// Errors from parsing an address string.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let text: String
        public let reason: String
        public var description: String { "bad address '\(text)': \(reason)" }
    }

    /// Parses `unix:PATH` or `tcp:HOST:PORT` (HOST may be `[v6]`).
    public init(parsing text: String) throws(ParseError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw ParseError(text: text, reason: "empty path") }
            guard path.utf8.count < 108 else { throw ParseError(text: text, reason: "unix socket path longer than 107 bytes") }
            self = .unix(path: path)
        } else if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":") else { throw ParseError(text: text, reason: "expected tcp:HOST:PORT") }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw ParseError(text: text, reason: "empty host") }
            guard let port = UInt16(rest[rest.index(after: colon)...]), port != 0 else {
                throw ParseError(text: text, reason: "port must be 1...65535")
            }
            self = .tcp(host: host, port: port)
        } else {
            throw ParseError(text: text, reason: "unknown transport (expected unix:PATH or tcp:HOST:PORT)")
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let host, let port): return host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        }
    }
}
