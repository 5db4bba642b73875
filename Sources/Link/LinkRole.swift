/// Which end of the link a peer is.
public enum LinkRole: UInt8, Sendable, CustomStringConvertible {
    case guest = 1
    case host = 2
    public var description: String { self == .guest ? "guest" : "host" }
}
