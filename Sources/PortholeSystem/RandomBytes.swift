/// The one place secrets and tags are drawn: bytes from the system's
/// random source (getrandom), never from a seeded generator.
public enum RandomBytes {
    public static func make(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
