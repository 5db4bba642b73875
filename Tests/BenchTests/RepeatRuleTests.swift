import Bench
import Testing

@Suite struct RepeatRuleTests {
    @Test func theSpreadIsTheHighestOverTheLowestLessOne() {
        #expect(RepeatRule.spread([0.5]) == 0)
        #expect(abs(RepeatRule.spread([0.4, 0.5, 0.45]) - 0.25) < 1e-12)
        #expect(RepeatRule.spread([0.5, 0]) == .infinity, "a failed round (0) is no measurement")
        #expect(RepeatRule.largestSpread(["stream": [1, 1.1], "region": [1, 1.3]]) > 0.29)
    }

    @Test func aCaseWhoseRatiosMovedMoreThanTwentyPercentRunsAgainUntilTheBound() {
        let rule = RepeatRule()
        let steady = ["stream": [0.20, 0.22], "region": [0.45, 0.50]]
        let moved = ["stream": [0.20, 0.22], "region": [0.40, 0.50]]
        func spread(_ ratios: [String: [Double]]) -> RepeatRule.Disagreement {
            RepeatRule.Disagreement(ratioSpread: RepeatRule.largestSpread(ratios))
        }
        #expect(!rule.needsRepeat(spread(steady), extraRounds: 0))
        #expect(rule.needsRepeat(spread(moved), extraRounds: 0))
        #expect(rule.needsRepeat(spread(moved), extraRounds: 1))
        #expect(!rule.needsRepeat(spread(moved), extraRounds: 2), "at most two extra rounds")
        #expect(!RepeatRule(maxSpread: 0.3).needsRepeat(spread(moved), extraRounds: 0))
    }

    @Test func aTypingCaseWhoseP99DifferencesLieFurtherApartThanTheTargetsMarginRunsAgain() {
        let rule = RepeatRule()
        // Region's p99 minus direct's, one value per round, in seconds.
        let close = ["region": [0.0001, 0.0003], "cooperative": [-0.0002, 0]]
        let apart = ["region": [-0.0004, 0.0005], "cooperative": [-0.0002, 0]]
        #expect(RepeatRule.range([0.001]) == 0)
        #expect(abs(RepeatRule.range([-0.0004, 0.0005, 0.0001]) - 0.0009) < 1e-12)
        #expect(RepeatRule.range([0.001, .infinity]) == .infinity, "a failed round is no measurement")
        #expect(!rule.needsRepeat(.init(ratioSpread: 0.05, latencyRange: RepeatRule.widestRange(close)), extraRounds: 0))
        #expect(rule.needsRepeat(.init(ratioSpread: 0.05, latencyRange: RepeatRule.widestRange(apart)), extraRounds: 0))
        #expect(!rule.needsRepeat(.init(ratioSpread: 0.05, latencyRange: RepeatRule.widestRange(apart)), extraRounds: 2))
    }
}

@Suite struct RepeatBudgetTests {
    @Test func theWidestSpreadThatNeedsARepeatGoesFirstUntilTheBudgetIsSpent() {
        let rule = RepeatRule(maxSpread: 0.2, maxExtraRounds: 2, budgetSeconds: 60)
        func spreads(_ items: [(Double, Int)]) -> [(disagreement: RepeatRule.Disagreement, extraRounds: Int)] {
            items.map { (RepeatRule.Disagreement(ratioSpread: $0.0), $0.1) }
        }
        let cases = spreads([(0.1, 0), (0.5, 0), (0.9, 2), (0.3, 1)])
        #expect(rule.next(cases, spentSeconds: 0) == 1, "0.9 has had its two extra rounds; 0.5 is the widest left")
        #expect(rule.next(spreads([(0.1, 0), (0.5, 2), (0.9, 2), (0.3, 1)]), spentSeconds: 10) == 3)
        #expect(rule.next(spreads([(0.1, 0), (0.15, 0)]), spentSeconds: 0) == nil, "every spread within 20%")
        #expect(rule.next(cases, spentSeconds: 60) == nil, "the budget is spent")
    }

    @Test func theCaseFurthestOverEitherBoundGoesFirst() {
        let rule = RepeatRule(maxSpread: 0.2, maxLatencyRange: 0.0003, maxExtraRounds: 2, budgetSeconds: 60)
        let cases: [(disagreement: RepeatRule.Disagreement, extraRounds: Int)] = [
            (.init(ratioSpread: 0.5), 0),                          // 2.5 times its bound
            (.init(ratioSpread: 0.1, latencyRange: 0.0012), 0),    // 4 times
            (.init(ratioSpread: 0.1, latencyRange: 0.0002), 0),    // within both
        ]
        #expect(rule.next(cases, spentSeconds: 0) == 1)
        #expect(rule.next([cases[0], (cases[1].disagreement, 2), cases[2]], spentSeconds: 0) == 0)
        #expect(rule.next([cases[2]], spentSeconds: 0) == nil)
    }
}
