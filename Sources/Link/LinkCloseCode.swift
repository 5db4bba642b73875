/// The code of a `closeLink` frame (docs/link-protocol.md §10).
public struct LinkCloseCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// An orderly shutdown (a proxy stopping).
    public static let orderly = LinkCloseCode(rawValue: 0)
    /// The peer broke the protocol; the reason says how.
    public static let protocolError = LinkCloseCode(rawValue: 1)
}
