/// One bench client's window in a mixed run: its size, damage pattern and
/// optional frame rate, as `--client WxH:pattern[@FPS]` gives it (a desktop:
/// a 4K video beside a text editor through one proxy pair).
public struct ClientSpec: Sendable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public var pattern: DamagePattern
    /// Damage fraction; nil takes the pattern's default.
    public var fraction: Double?
    /// Frames a second the client draws at most (a video plays at its own
    /// rate); nil: as fast as frame callbacks come.
    public var rate: Int?

    public init(width: Int, height: Int, pattern: DamagePattern, fraction: Double? = nil, rate: Int? = nil) {
        self.width = width
        self.height = height
        self.pattern = pattern
        self.fraction = fraction
        self.rate = rate
    }

    /// Largest side accepted, as for `--size`.
    public static let maxSide = 16384
    /// Highest frame rate accepted after `@`.
    public static let maxRate = 1000

    /// Parses "WxH:pattern" or "WxH:pattern@FPS" (pattern one of
    /// `DamagePattern`'s names); nil for anything else, sides outside
    /// 1...16384 and rates outside 1...1000 included.
    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let paced = parts[1].split(separator: "@", omittingEmptySubsequences: false)
        guard paced.count <= 2, let pattern = DamagePattern(rawValue: String(paced[0]).lowercased()) else { return nil }
        var rate: Int?
        if paced.count == 2 {
            guard let r = Int(paced[1]), (1...Self.maxRate).contains(r) else { return nil }
            rate = r
        }
        let sides = parts[0].lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard sides.count == 2, let w = Int(sides[0]), let h = Int(sides[1]),
              (1...Self.maxSide).contains(w), (1...Self.maxSide).contains(h) else { return nil }
        self.init(width: w, height: h, pattern: pattern, rate: rate)
    }

    /// Nanoseconds between frames at `rate`; nil without one.
    public var frameInterval: UInt64? { rate.map { 1_000_000_000 / UInt64($0) } }

    public var damageFraction: Double { pattern == .full ? 1 : (fraction ?? pattern.defaultFraction) }
    public var plan: DamagePlan { DamagePlan(pattern: pattern, fraction: damageFraction, width: width, height: height) }
    public var sizeLabel: String { "\(width)x\(height)" }
    /// "3840x2160:full" or "3840x2160:full@60", as on the command line.
    public var description: String { "\(sizeLabel):\(pattern.rawValue)" + (rate.map { "@\($0)" } ?? "") }
}
