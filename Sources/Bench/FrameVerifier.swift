import Foundation
import Harness

/// Checks committed frames against the picture the bench client must have
/// drawn (`DamagePlan` + `PatternPainter`), exactly, pixel for pixel.
///
/// Every frame: the first, middle and last rows of (up to 8 of) its damage
/// rectangles, the rows just above and below them, and 4 rows picked
/// pseudo-randomly over the whole height, each
/// compared across the full width, so both repainted pixels and pixels that
/// had to stay as they were are looked at. Every `fullCheckInterval`-th
/// frame (frame 0 among them) every row is compared. Not thread-safe: one
/// verifier per thread (the sink calls it on its own thread).
public final class FrameVerifier: @unchecked Sendable {
    /// What checking one frame found.
    public enum Outcome: Sendable, Equatable {
        /// Every row looked at was right; `fullCheck` when that was all of them.
        case ok(rowsChecked: Int, fullCheck: Bool)
        /// Something differed; the text says what and where.
        case mismatch(String)

        public var isOK: Bool { if case .ok = self { return true } else { return false } }
    }

    public let plan: DamagePlan
    /// Every this many frames the whole picture is compared.
    public let fullCheckInterval: Int
    private let painter: PatternPainter
    private var scratch: [UInt32]

    /// Rows sampled per frame outside the damage rectangles' own rows.
    public static let randomRows = 4
    /// Damage rectangles whose rows are sampled, at most.
    public static let sampledRectangles = 8

    public init(plan: DamagePlan, fullCheckInterval: Int) {
        precondition(fullCheckInterval >= 1)
        self.plan = plan
        self.fullCheckInterval = fullCheckInterval
        painter = PatternPainter(width: plan.width)
        scratch = [UInt32](repeating: 0, count: plan.width)
    }

    /// The rows checked for frame `frame` (sorted, no repeats), and whether
    /// that is every row.
    public func rowsToCheck(frame: Int) -> (rows: [Int], full: Bool) {
        if frame % fullCheckInterval == 0 { return (Array(0..<plan.height), true) }
        var rows = Set<Int>()
        let rects = plan.rects(frame: frame)
        let step = max(1, rects.count / Self.sampledRectangles)
        for r in Swift.stride(from: 0, to: rects.count, by: step).prefix(Self.sampledRectangles).map({ rects[$0] }) where r.height > 0 {
            // Its edges, its middle, and the rows just outside it, which must not have changed.
            for y in [r.y - 1, r.y, r.y + r.height / 2, r.y + r.height - 1, r.y + r.height] where y >= 0 && y < plan.height {
                rows.insert(y)
            }
        }
        var h = UInt64(truncatingIfNeeded: frame) &* 0x9E37_79B9_7F4A_7C15
        for _ in 0..<Self.randomRows {
            h ^= h >> 29
            h = h &* 0xBF58_476D_1CE4_E5B9 &+ 0x94D0_49BB_1331_11EB
            rows.insert(Int(h % UInt64(plan.height)))
        }
        return (rows.sorted(), false)
    }

    /// Rows compared between calls of `verify`'s `between`: about 50 µs of
    /// a full check at 1920x1080.
    public static let rowsPerPiece = 64

    /// Checks a committed buffer said to be frame `frame`. `between` runs
    /// after every `rowsPerPiece` rows: a check thread offers its CPU there
    /// (`FrameCheckThread`).
    public func verify(frame: Int, pixels: UnsafeRawBufferPointer, width: Int, height: Int, stride: Int, format: UInt32,
                       between: () -> Void = {}) -> Outcome {
        guard width == plan.width, height == plan.height else {
            return .mismatch("frame \(frame): buffer is \(width)x\(height), expected \(plan.width)x\(plan.height)")
        }
        guard format == 0 || format == 1 else { return .mismatch("frame \(frame): format \(format), expected XRGB8888 (1)") }
        guard stride >= width * 4, pixels.count >= stride * (height - 1) + width * 4 else {
            return .mismatch("frame \(frame): stride \(stride) or size \(pixels.count) too small for \(width)x\(height)")
        }
        let (rows, full) = rowsToCheck(frame: frame)
        // Rows of one span class share their spans: worked out once per
        // class (they were most of the bench's CPU with eight typing clients).
        var spansClass = -1
        var spans: [RowSpan] = []
        for (n, y) in rows.enumerated() {
            if n > 0 && n % Self.rowsPerPiece == 0 { between() }
            let c = plan.spanClass(row: y)
            if c != spansClass {
                spans = plan.spans(row: y, frame: frame)
                spansClass = c
            }
            if let message = check(row: y, spans: spans, frame: frame, pixels: pixels, stride: stride) { return .mismatch(message) }
        }
        return .ok(rowsChecked: rows.count, fullCheck: full)
    }

    /// Compares row `y`, whose spans are `spans`; nil when it is right, else
    /// a description of the first wrong pixel.
    private func check(row y: Int, spans: [RowSpan], frame: Int, pixels: UnsafeRawBufferPointer, stride: Int) -> String? {
        let width = plan.width
        let painter = self.painter
        return scratch.withUnsafeMutableBufferPointer { expected -> String? in
            let e = expected.baseAddress!
            for s in spans { painter.paintRow(frame: s.frame, y: y, from: s.x0, to: s.x1, into: e) }
            let row = pixels.baseAddress! + y * stride
            if memcmp(row, e, width * 4) == 0 { return nil }
            for x in 0..<width {
                let got = row.loadUnaligned(fromByteOffset: x * 4, as: UInt32.self)
                if got != e[x] {
                    let shows = spans.first { $0.x0 <= x && x < $0.x1 }?.frame ?? -1
                    return String(format: "frame %d: pixel (%d, %d) is 0x%08X, expected 0x%08X (the pattern of frame %d)", frame, x, y, got, e[x], shows)
                }
            }
            return nil
        }
    }
}

/// Brings a client's buffer from the frame it holds to frame `frame`: the
/// drawing side of the `DamagePlan` contract, with buffer age.
public struct FramePainter: Sendable {
    public let plan: DamagePlan
    private let painter: PatternPainter

    public init(plan: DamagePlan) {
        self.plan = plan
        painter = PatternPainter(width: plan.width)
    }

    /// Repaints what changed between frame `held` (nil: the buffer holds
    /// garbage) and frame `frame` > `held`, in order, so that the buffer at
    /// `base` (`stride` bytes per row) then shows frame `frame`.
    public func bring(_ base: UnsafeMutableRawPointer, stride: Int, from held: Int?, to frame: Int) {
        // Replay from the frame after `held`; from frame 0 (a full repaint)
        // when the buffer holds nothing usable.
        var start = (held ?? -1) + 1
        if let held, held >= frame { start = 0 }
        // Nothing before the last full repaint matters.
        var first = start
        for j in Swift.stride(from: frame, through: start, by: -1) where plan.isFull(frame: j) {
            first = j
            break
        }
        for j in first...frame {
            for r in plan.rects(frame: j) { painter.paint(frame: j, rect: r, into: base, stride: stride) }
        }
    }
}
