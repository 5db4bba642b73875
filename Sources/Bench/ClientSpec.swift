/// One bench client's window in a mixed run: its size and damage pattern,
/// as `--client WxH:pattern` gives it (a desktop: a 4K video beside a text
/// editor through one proxy pair).
public struct ClientSpec: Sendable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public var pattern: DamagePattern
    /// Damage fraction; nil takes the pattern's default.
    public var fraction: Double?

    public init(width: Int, height: Int, pattern: DamagePattern, fraction: Double? = nil) {
        self.width = width
        self.height = height
        self.pattern = pattern
        self.fraction = fraction
    }

    /// Largest side accepted, as for `--size`.
    public static let maxSide = 16384

    /// Parses "WxH:pattern" (pattern one of `DamagePattern`'s names); nil
    /// for anything else, sides outside 1...16384 included.
    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let pattern = DamagePattern(rawValue: String(parts[1]).lowercased()) else { return nil }
        let sides = parts[0].lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard sides.count == 2, let w = Int(sides[0]), let h = Int(sides[1]),
              (1...Self.maxSide).contains(w), (1...Self.maxSide).contains(h) else { return nil }
        self.init(width: w, height: h, pattern: pattern)
    }

    public var damageFraction: Double { pattern == .full ? 1 : (fraction ?? pattern.defaultFraction) }
    public var plan: DamagePlan { DamagePlan(pattern: pattern, fraction: damageFraction, width: width, height: height) }
    public var sizeLabel: String { "\(width)x\(height)" }
    /// "3840x2160:full", as on the command line.
    public var description: String { "\(sizeLabel):\(pattern.rawValue)" }
}
