import Foundation
import Harness

/// How the damaged part of a benchmark frame is laid out.
public enum DamagePattern: String, Sendable, CaseIterable, Codable {
    /// Every frame repaints the whole surface.
    case full
    /// A horizontal band of full-width rows that moves down one band height
    /// per frame and wraps around.
    case band
    /// Many small rectangles spread over the surface: a grid of cells split
    /// into groups, one group repainted per frame, cycling through all.
    case scattered
    /// What typing looks like: each frame repaints three character cells
    /// (`typingCell`) in reading order, one in each third of the surface (a
    /// text field, a terminal line, a cursor moving along), as a text editor
    /// beside a video would.
    case typing

    /// The damage fraction used when none is given.
    public var defaultFraction: Double {
        switch self {
        case .full: return 1
        case .band: return 0.25
        case .scattered: return 0.02
        case .typing: return DamagePlan.typingCells * Double(DamagePlan.typingCell.width * DamagePlan.typingCell.height) / (1920 * 1080)
        }
    }
}

/// A run of pixels of one row that all show the same frame's pattern.
public struct RowSpan: Sendable, Equatable {
    /// First pixel.
    public var x0: Int
    /// One past the last pixel.
    public var x1: Int
    /// The frame whose pattern these pixels show.
    public var frame: Int
}

/// Which pixels each frame of a benchmark client repaints, and so which frame
/// every pixel shows after any frame: the contract between the bench client
/// (which paints) and the verifier (which checks).
///
/// Frame 0 paints the whole surface. Frame k >= 1 paints `rects(frame: k)`
/// with the pattern of frame k; every other pixel keeps what it had. The band
/// and scattered layouts cycle with period `period`, and within one period
/// every damaged pixel is painted exactly once, so after frame k a pixel shows
/// the last frame j <= k that painted it, found by arithmetic alone.
public struct DamagePlan: Sendable {
    public let pattern: DamagePattern
    /// The fraction asked for.
    public let fraction: Double
    public let width: Int
    public let height: Int
    /// Frames after which the layout repeats (1 for full damage).
    public let period: Int

    // band: band i covers rows bandStart(i)..<bandStart(i + 1).
    // scattered: the cell grid and each cell's group.
    private let columns: Int
    private let rows: Int
    private let cellWidth: Int
    private let cellHeight: Int
    private let groupOfCell: [Int]
    private let cellsOfGroup: [[Int]]

    /// Rectangles per frame in the scattered layout (fewer on tiny surfaces).
    public static let scatteredRectangles = 16
    /// One typed character, in pixels, and how many a typing frame repaints.
    public static let typingCell = (width: 10, height: 20)
    static let typingCells = 3.0

    /// The plan for a `width` x `height` surface. `fraction` is in (0, 1];
    /// full damage ignores it.
    public init(pattern: DamagePattern, fraction: Double, width: Int, height: Int) {
        precondition(width > 0 && height > 0)
        precondition(fraction > 0 && fraction <= 1, "damage fraction \(fraction) is not in (0, 1]")
        self.pattern = pattern
        // Typing repaints character cells, whatever fraction was asked for.
        self.fraction = pattern == .full ? 1 : pattern == .typing
            ? min(1, Self.typingCells * Double(Self.typingCell.width * Self.typingCell.height) / Double(width * height)) : fraction
        self.width = width
        self.height = height
        var columns = 1, rows = 1, cellWidth = width, cellHeight = height
        var groupOfCell: [Int] = [0], cellsOfGroup: [[Int]] = [[0]]
        var period = 1
        switch pattern {
        case .full:
            break
        case .band:
            // round(1 / fraction) bands whose heights differ by at most a row.
            period = min(height, max(1, Int((1 / fraction).rounded())))
        case .scattered:
            let groups = max(1, Int((1 / fraction).rounded()))
            // As many cells as fit at one pixel each, at most 16 per group.
            let perGroup = max(1, min(Self.scatteredRectangles, width * height / groups))
            let cells = perGroup * groups
            // A grid of about `cells` cells with the surface's aspect ratio.
            columns = min(width, max(1, Int((Double(cells) * Double(width) / Double(height)).squareRoot().rounded())))
            rows = min(height, max(1, (cells + columns - 1) / columns))
            cellWidth = width / columns
            cellHeight = height / rows
            let total = columns * rows
            // Groups are residues of a scrambling bijection c -> (a*c + b) mod total,
            // so one frame's cells are spread over the surface.
            var a = max(1, Int(Double(total) * 0.618)) | 1
            while gcd(a, total) != 1 { a += 1 }
            let b = total / 3
            groupOfCell = (0..<total).map { c in ((a * c + b) % total) % groups }
            cellsOfGroup = Array(repeating: [], count: groups)
            for c in 0..<total { cellsOfGroup[groupOfCell[c]].append(c) }
            period = groups
        case .typing:
            // Character cells in reading order, in three thirds of the
            // surface; frame k repaints cell k of each third.
            columns = max(1, width / Self.typingCell.width)
            rows = max(3, height / Self.typingCell.height)
            cellWidth = width / columns
            cellHeight = height / rows
            let third = columns * rows / 3
            groupOfCell = (0..<(columns * rows)).map { c in min(c % max(1, third), max(1, third) - 1) }
            cellsOfGroup = Array(repeating: [], count: max(1, third))
            for c in 0..<(3 * third) { cellsOfGroup[c % third].append(c) }
            // Cells past the last whole third are never repainted.
            for c in (3 * third)..<(columns * rows) { groupOfCell[c] = -1 }
            period = max(1, third)
        }
        self.columns = columns
        self.rows = rows
        self.cellWidth = cellWidth
        self.cellHeight = cellHeight
        self.groupOfCell = groupOfCell
        self.cellsOfGroup = cellsOfGroup
        self.period = period
    }

    /// The whole surface.
    public var fullRect: PixelRect { PixelRect(x: 0, y: 0, width: width, height: height) }

    /// Whether frame `frame` repaints the whole surface.
    public func isFull(frame: Int) -> Bool { frame <= 0 || pattern == .full || period == 1 }

    /// The slot (band or group) frame `frame` >= 1 repaints.
    private func slot(frame: Int) -> Int { (frame - 1) % period }

    /// The rectangles frame `frame` repaints (the whole surface for frame 0).
    /// They never overlap.
    public func rects(frame: Int) -> [PixelRect] {
        if isFull(frame: frame) { return [fullRect] }
        switch pattern {
        case .full:
            return [fullRect]
        case .band:
            let b = slot(frame: frame)
            return [PixelRect(x: 0, y: bandStart(b), width: width, height: bandStart(b + 1) - bandStart(b))]
        case .scattered, .typing:
            return cellsOfGroup[slot(frame: frame)].map { cell($0) }
        }
    }

    /// The first row of band `i` (`height` for i == period).
    private func bandStart(_ i: Int) -> Int { i * height / period }

    /// The band that holds row `y`.
    private func band(ofRow y: Int) -> Int {
        var i = min(y * period / height, period - 1)
        while i + 1 < period && bandStart(i + 1) <= y { i += 1 }
        while i > 0 && bandStart(i) > y { i -= 1 }
        return i
    }

    private func cell(_ c: Int) -> PixelRect {
        PixelRect(x: (c % columns) * cellWidth, y: (c / columns) * cellHeight, width: cellWidth, height: cellHeight)
    }

    /// The last frame j <= `frame` that painted slot `s` (0 if only frame 0
    /// did; slot -1 is never repainted).
    private func lastPainted(slot s: Int, frame: Int) -> Int {
        guard frame >= 1 else { return 0 }
        return lastPainted(slot: s, frame: frame, latest: (frame - 1) % period)
    }

    /// `lastPainted(slot:frame:)` for a frame >= 1 that painted slot
    /// `latest` ((frame - 1) mod period), without dividing: `spans` asks it
    /// for a row of 128 cells about 15 times a frame. A slot s in 0..<period
    /// was last painted (latest - s) mod period frames before.
    private func lastPainted(slot s: Int, frame: Int, latest: Int) -> Int {
        guard s >= 0 else { return 0 }
        let back = latest >= s ? latest - s : latest - s + period
        return max(frame - back, 0)
    }

    /// The frame whose pattern pixel (`x`, `y`) shows after frame `frame`.
    public func lastPainted(frame: Int, x: Int, y: Int) -> Int {
        if isFull(frame: frame) { return frame }
        switch pattern {
        case .full:
            return frame
        case .band:
            return lastPainted(slot: band(ofRow: y), frame: frame)
        case .scattered, .typing:
            let col = x / cellWidth, row = y / cellHeight
            guard col < columns, row < rows else { return 0 }
            return lastPainted(slot: groupOfCell[row * columns + col], frame: frame)
        }
    }

    /// A number shared by the rows whose `spans(row:frame:)` are the same in
    /// every frame: the row of cells `y` lies in (scattered, typing; one
    /// number for all rows below the grid), `y` itself otherwise. A full
    /// check of a typing frame asks for 720 rows' spans, of 36 cell rows.
    public func spanClass(row y: Int) -> Int {
        guard pattern == .scattered || pattern == .typing else { return y }
        return min(y / cellHeight, rows)
    }

    /// Row `y` after frame `frame`, as spans left to right that cover the
    /// whole width, each showing one frame's pattern (adjacent spans of the
    /// same frame merged).
    public func spans(row y: Int, frame: Int) -> [RowSpan] {
        if isFull(frame: frame) || (pattern != .scattered && pattern != .typing) {
            return [RowSpan(x0: 0, x1: width, frame: lastPainted(frame: frame, x: 0, y: y))]
        }
        let row = y / cellHeight
        if row >= rows { return [RowSpan(x0: 0, x1: width, frame: 0)] }
        let latest = (frame - 1) % period
        var out: [RowSpan] = []
        out.reserveCapacity(columns + 1)
        groupOfCell.withUnsafeBufferPointer { groups in
            for col in 0..<columns {
                let f = lastPainted(slot: groups[row * columns + col], frame: frame, latest: latest)
                let x0 = col * cellWidth
                if let last = out.last, last.frame == f, last.x1 == x0 {
                    out[out.count - 1].x1 = x0 + cellWidth
                } else {
                    out.append(RowSpan(x0: x0, x1: x0 + cellWidth, frame: f))
                }
            }
        }
        let tail = columns * cellWidth
        if tail < width {
            if let last = out.last, last.frame == 0, last.x1 == tail { out[out.count - 1].x1 = width } else { out.append(RowSpan(x0: tail, x1: width, frame: 0)) }
        }
        return out
    }

    /// The share of the surface frames 1...period repaint, on average: the
    /// damage fraction this plan really delivers.
    public var measuredFraction: Double {
        if pattern == .full || period == 1 { return 1 }
        var area = 0
        for k in 1...period { area += rects(frame: k).reduce(0) { $0 + $1.area } }
        return Double(area) / Double(period) / Double(width * height)
    }

    /// Number of rectangles per frame after frame 0 (the largest group).
    public var rectanglesPerFrame: Int {
        switch pattern {
        case .full: return 1
        case .band: return 1
        case .scattered, .typing: return cellsOfGroup.map(\.count).max() ?? 1
        }
    }

    /// A short name such as "full", "band 25%" or "scattered 2%".
    public var label: String {
        switch pattern {
        case .full: return "full"
        case .typing: return "typing"
        default: return "\(pattern.rawValue) \(percent(fraction))"
        }
    }
}

func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

/// "25%", "2%", "0.5%".
func percent(_ f: Double) -> String {
    let p = f * 100
    if p == p.rounded() { return "\(Int(p))%" }
    return String(format: "%.1f%%", p)
}
