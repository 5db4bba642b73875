import Bench
import Harness
import Testing

/// An XRGB8888 picture in memory, as a compositor would map it.
struct TestImage {
    let width: Int
    let height: Int
    let stride: Int
    var bytes: [UInt8]

    init(width: Int, height: Int, padding: Int = 0) {
        self.width = width
        self.height = height
        stride = width * 4 + padding
        bytes = [UInt8](repeating: 0x5A, count: stride * height)
    }

    /// The picture of `frame` drawn by a double-buffered client: two
    /// buffers, alternating, each brought up to date from its own last frame.
    static func drawn(plan: DamagePlan, frames: ClosedRange<Int>, padding: Int = 0) -> [Int: TestImage] {
        let painter = FramePainter(plan: plan)
        var buffers = [TestImage(width: plan.width, height: plan.height, padding: padding),
                       TestImage(width: plan.width, height: plan.height, padding: padding)]
        var held: [Int?] = [nil, nil]
        var out: [Int: TestImage] = [:]
        for k in 0...frames.upperBound {
            let b = k % 2
            let stride = buffers[b].stride
            buffers[b].bytes.withUnsafeMutableBytes { painter.bring($0.baseAddress!, stride: stride, from: held[b], to: k) }
            held[b] = k
            if frames.contains(k) { out[k] = buffers[b] }
        }
        return out
    }

    func verify(_ verifier: FrameVerifier, frame: Int) -> FrameVerifier.Outcome {
        bytes.withUnsafeBytes { verifier.verify(frame: frame, pixels: $0, width: width, height: height, stride: stride, format: 1) }
    }

    mutating func flip(x: Int, y: Int) { bytes[y * stride + x * 4 + 1] ^= 0x01 }
}

@Suite struct FrameVerifierTests {
    static let plans: [DamagePlan] = [
        DamagePlan(pattern: .full, fraction: 1, width: 96, height: 64),
        DamagePlan(pattern: .band, fraction: 0.25, width: 96, height: 64),
        DamagePlan(pattern: .scattered, fraction: 0.05, width: 160, height: 90),
    ]

    @Test(arguments: plans)
    func framesDrawnWithBufferAgePass(plan: DamagePlan) {
        let images = TestImage.drawn(plan: plan, frames: 0...25, padding: 12)
        let full = FrameVerifier(plan: plan, fullCheckInterval: 1)
        let sampled = FrameVerifier(plan: plan, fullCheckInterval: 1000)
        for (k, image) in images {
            #expect(image.verify(full, frame: k) == .ok(rowsChecked: plan.height, fullCheck: true), "frame \(k)")
            #expect(image.verify(sampled, frame: k).isOK, "frame \(k), sampled")
        }
    }

    /// Any one wrong pixel anywhere is caught by a full check.
    @Test(arguments: plans)
    func aSingleWrongPixelIsCaughtByAFullCheck(plan: DamagePlan) {
        let verifier = FrameVerifier(plan: plan, fullCheckInterval: 1)
        let k = 9
        let good = TestImage.drawn(plan: plan, frames: k...k)[k]!
        for y in 0..<plan.height {
            for x in 0..<plan.width {
                var bad = good
                bad.flip(x: x, y: y)
                guard case .mismatch(let text) = bad.verify(verifier, frame: k) else {
                    Issue.record("frame \(k): the wrong pixel at (\(x), \(y)) was not caught")
                    return
                }
                #expect(text.contains("(\(x), \(y))"))
            }
        }
    }

    /// Between full checks, a wrong pixel on any sampled row is caught, and
    /// the sampled rows cover both the damage and the rest.
    @Test(arguments: plans)
    func sampledRowsCatchWrongPixelsInAndOutOfTheDamage(plan: DamagePlan) {
        let verifier = FrameVerifier(plan: plan, fullCheckInterval: 1000)
        let images = TestImage.drawn(plan: plan, frames: 1...12)
        for k in 1...12 {
            let (rows, full) = verifier.rowsToCheck(frame: k)
            #expect(!full)
            let damaged = Set(plan.rects(frame: k).flatMap { $0.y..<($0.y + $0.height) })
            #expect(rows.contains { damaged.contains($0) }, "frame \(k): no damaged row sampled")
            if plan.pattern == .band { #expect(rows.contains { !damaged.contains($0) }, "frame \(k): no undamaged row sampled") }
            for y in rows {
                for x in [0, plan.width / 3, plan.width - 1] {
                    var bad = images[k]!
                    bad.flip(x: x, y: y)
                    #expect(!bad.verify(verifier, frame: k).isOK, "frame \(k): wrong pixel (\(x), \(y)) not caught")
                }
            }
        }
    }

    /// A proxy that forwards the commit but not the damaged bytes (the buffer
    /// still shows an older frame there) is caught on every frame.
    @Test(arguments: plans)
    func undeliveredDamageIsCaught(plan: DamagePlan) {
        let verifier = FrameVerifier(plan: plan, fullCheckInterval: 1000)
        let images = TestImage.drawn(plan: plan, frames: 1...12)
        for k in 2...12 {
            var stale = images[k]!
            let old = images[k - 1]!
            for r in plan.rects(frame: k) {
                for y in r.y..<(r.y + r.height) {
                    let a = y * stale.stride + r.x * 4
                    stale.bytes.replaceSubrange(a..<(a + r.width * 4), with: old.bytes[a..<(a + r.width * 4)])
                }
            }
            guard case .mismatch = stale.verify(verifier, frame: k) else {
                Issue.record("frame \(k): stale damage not caught")
                continue
            }
        }
    }

    @Test func frameOrderAndSizeAreChecked() {
        let plan = Self.plans[1]
        let verifier = FrameVerifier(plan: plan, fullCheckInterval: 1000)
        let images = TestImage.drawn(plan: plan, frames: 3...4)
        #expect(!images[3]!.verify(verifier, frame: 4).isOK, "frame 3 passed off as frame 4")
        let small = TestImage(width: 95, height: 64)
        #expect(!small.verify(verifier, frame: 4).isOK)
    }
}

extension DamagePlan: CustomTestStringConvertible {
    public var testDescription: String { "\(label) \(width)x\(height)" }
}

/// A check thread offers its CPU between pieces of a check; what is
/// compared does not change.
@Suite struct FrameVerifierPieceTests {
    @Test func aFullCheckCallsBetweenAfterEveryPieceOfRows() {
        let plan = DamagePlan(pattern: .full, fraction: 1, width: 32, height: 2 * FrameVerifier.rowsPerPiece + 5)
        let verifier = FrameVerifier(plan: plan, fullCheckInterval: 1)
        let image = TestImage.drawn(plan: plan, frames: 4...4)[4]!
        var calls = 0
        let outcome = image.bytes.withUnsafeBytes {
            verifier.verify(frame: 4, pixels: $0, width: image.width, height: image.height, stride: image.stride, format: 1) { calls += 1 }
        }
        #expect(outcome == .ok(rowsChecked: plan.height, fullCheck: true))
        #expect(calls == 2)
    }
}
