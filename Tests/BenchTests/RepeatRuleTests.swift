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
        #expect(!rule.needsRepeat(steady, extraRounds: 0))
        #expect(rule.needsRepeat(moved, extraRounds: 0))
        #expect(rule.needsRepeat(moved, extraRounds: 1))
        #expect(!rule.needsRepeat(moved, extraRounds: 2), "at most two extra rounds")
        #expect(!RepeatRule(maxSpread: 0.3).needsRepeat(moved, extraRounds: 0))
    }
}

@Suite struct RepeatBudgetTests {
    @Test func theWidestSpreadThatNeedsARepeatGoesFirstUntilTheBudgetIsSpent() {
        let rule = RepeatRule(maxSpread: 0.2, maxExtraRounds: 2, budgetSeconds: 60)
        let cases: [(spread: Double, extraRounds: Int)] = [(0.1, 0), (0.5, 0), (0.9, 2), (0.3, 1)]
        #expect(rule.next(cases, spentSeconds: 0) == 1, "0.9 has had its two extra rounds; 0.5 is the widest left")
        #expect(rule.next([(0.1, 0), (0.5, 2), (0.9, 2), (0.3, 1)], spentSeconds: 10) == 3)
        #expect(rule.next([(0.1, 0), (0.15, 0)], spentSeconds: 0) == nil, "every spread within 20%")
        #expect(rule.next(cases, spentSeconds: 60) == nil, "the budget is spent")
    }
}
