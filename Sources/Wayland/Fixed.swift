/// A Wayland `fixed` value: a signed 24.8 fixed-point number, kept as its raw
/// bits so that a message re-encodes exactly as it arrived.
public struct Fixed: Hashable, Sendable {
    public var raw: Int32

    public init(raw: Int32) {
        self.raw = raw
    }

    /// The exact value; every 24.8 number fits in a Double.
    public var doubleValue: Double { Double(raw) / 256 }
}
