import Bench
import Harness
import Testing

@Suite struct DamagePlanTests {
    static let sizes = [(1280, 720), (1920, 1080), (3840, 2160), (333, 97)]

    @Test func fullDamageRepaintsEverything() {
        let plan = DamagePlan(pattern: .full, fraction: 1, width: 1920, height: 1080)
        #expect(plan.measuredFraction == 1)
        #expect(plan.rects(frame: 7) == [plan.fullRect])
        #expect(plan.lastPainted(frame: 7, x: 100, y: 100) == 7)
    }

    @Test(arguments: [0.25, 0.1, 0.02])
    func bandsDeliverTheAdvertisedFraction(fraction: Double) {
        for (w, h) in Self.sizes {
            let plan = DamagePlan(pattern: .band, fraction: fraction, width: w, height: h)
            // 1 / fraction bands cover the height: exact on average.
            #expect(abs(plan.measuredFraction - fraction) <= 1e-9, "\(w)x\(h) band \(fraction): \(plan.measuredFraction)")
            // Each frame's band is within a row of the fraction.
            for k in 1...plan.period {
                let area = plan.rects(frame: k).reduce(0) { $0 + $1.area }
                #expect(abs(Double(area) / Double(w * h) - fraction) <= 1.0 / Double(h))
            }
        }
    }

    @Test(arguments: [0.02, 0.05, 0.25])
    func scatteredRectanglesDeliverTheAdvertisedFraction(fraction: Double) {
        for (w, h) in Self.sizes.prefix(3) {
            let plan = DamagePlan(pattern: .scattered, fraction: fraction, width: w, height: h)
            // The cell grid leaves a strip narrower than a cell unpainted: at most a few percent off.
            #expect(abs(plan.measuredFraction - fraction) <= 0.05 * fraction, "\(w)x\(h) scattered \(fraction): \(plan.measuredFraction)")
            #expect(plan.rectanglesPerFrame >= 16)
            // Every frame's share is close to the fraction too.
            for k in 1...plan.period {
                let area = plan.rects(frame: k).reduce(0) { $0 + $1.area }
                #expect(abs(Double(area) / Double(w * h) - fraction) <= 0.1 * fraction)
            }
        }
    }

    @Test func scatteredRectanglesAreSpreadOut() {
        let plan = DamagePlan(pattern: .scattered, fraction: 0.02, width: 1920, height: 1080)
        let rects = plan.rects(frame: 1)
        #expect(Set(rects.map { $0.y / 270 }).count == 4, "rectangles of one frame span every quarter of the height")
        #expect(Set(rects.map { $0.x / 480 }).count == 4, "and every quarter of the width")
    }

    @Test(arguments: [DamagePattern.band, .scattered, .typing])
    func rectanglesStayInsideAndNeverOverlap(pattern: DamagePattern) {
        let (w, h) = (203, 117)
        let plan = DamagePlan(pattern: pattern, fraction: pattern == .band ? 0.25 : 0.05, width: w, height: h)
        var painted = [Int](repeating: 0, count: w * h)
        for k in 1...plan.period {
            for r in plan.rects(frame: k) {
                #expect(r.x >= 0 && r.y >= 0 && r.width > 0 && r.height > 0 && r.x + r.width <= w && r.y + r.height <= h)
                for y in r.y..<(r.y + r.height) { for x in r.x..<(r.x + r.width) { painted[y * w + x] += 1 } }
            }
        }
        // Within one period no pixel is painted twice.
        #expect(painted.allSatisfy { $0 <= 1 })
    }

    /// lastPainted and spans agree with actually replaying the frames.
    @Test(arguments: [DamagePattern.full, .band, .scattered, .typing])
    func lastPaintedMatchesAReplay(pattern: DamagePattern) {
        let (w, h) = (150, 90)
        let plan = DamagePlan(pattern: pattern, fraction: pattern.defaultFraction == 0.02 ? 0.05 : pattern.defaultFraction, width: w, height: h)
        var shown = [Int](repeating: 0, count: w * h)
        for k in 0...(2 * plan.period + 3) {
            for r in plan.rects(frame: k) {
                for y in r.y..<(r.y + r.height) { for x in r.x..<(r.x + r.width) { shown[y * w + x] = k } }
            }
            for y in 0..<h {
                let spans = plan.spans(row: y, frame: k)
                #expect(spans.first?.x0 == 0 && spans.last?.x1 == w)
                for (a, b) in zip(spans, spans.dropFirst()) { #expect(a.x1 == b.x0) }
                for s in spans {
                    for x in s.x0..<s.x1 where shown[y * w + x] != s.frame {
                        Issue.record("frame \(k): (\(x), \(y)) shows \(shown[y * w + x]), span says \(s.frame)")
                        return
                    }
                }
                for x in Swift.stride(from: 0, to: w, by: 7) {
                    #expect(plan.lastPainted(frame: k, x: x, y: y) == shown[y * w + x])
                }
            }
        }
    }

    /// The verifier works out spans once per span class: rows of one class
    /// must have the same spans in every frame, and the classes must tell
    /// apart rows whose spans differ (which the replay above checks).
    @Test(arguments: [DamagePattern.full, .band, .scattered, .typing])
    func rowsOfOneSpanClassHaveTheSameSpansInEveryFrame(pattern: DamagePattern) {
        let (w, h) = (150, 97)
        let plan = DamagePlan(pattern: pattern, fraction: pattern.defaultFraction == 0.02 ? 0.05 : pattern.defaultFraction, width: w, height: h)
        var classes = Set<Int>()
        for k in 0...(2 * plan.period + 3) {
            var first: [Int: [RowSpan]] = [:]
            for y in 0..<h {
                let c = plan.spanClass(row: y)
                classes.insert(c)
                let spans = plan.spans(row: y, frame: k)
                if let seen = first[c] {
                    if seen != spans { Issue.record("frame \(k): row \(y) of class \(c) has other spans than the class's first row"); return }
                } else {
                    first[c] = spans
                }
            }
        }
        if pattern == .scattered || pattern == .typing {
            #expect(classes.count < h / 2, "cell rows share a class: \(classes.count) classes for \(h) rows")
        }
    }

    @Test func typingRepaintsThreeCharacterCellsAFrameOneInEachThird() {
        let plan = DamagePlan(pattern: .typing, fraction: 0.5, width: 1280, height: 720)
        #expect(plan.label == "typing")
        for k in [1, 2, 500] {
            let rects = plan.rects(frame: k)
            #expect(rects.count == 3)
            #expect(rects.allSatisfy { $0.width == 10 && $0.height == 20 })
            #expect(Set(rects.map { $0.y * 3 / 720 }) == [0, 1, 2], "one cell in each third of the surface")
        }
        // Frame k + 1 types the next character of each line.
        #expect(plan.rects(frame: 2)[0].x == plan.rects(frame: 1)[0].x + 10)
        #expect(plan.measuredFraction < 0.001, "a few small rectangles: \(plan.measuredFraction)")
    }
}
