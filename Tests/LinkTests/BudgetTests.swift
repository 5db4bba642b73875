@testable import Link
import Testing

@Suite struct BudgetTests {
    @Test func aTakeCountsAtEveryLevelOrAtNone() {
        let host = Budget("host", limit: 10)
        let a = Budget("a", limit: 6, parent: host)
        let b = Budget("b", limit: 6, parent: host)
        #expect(a.take(6) == nil && a.used == 6 && host.used == 6)
        #expect(a.take(1) === a, "a's own limit")
        #expect(b.take(5) === host, "the host's total: 6 + 5 > 10")
        #expect(b.used == 0 && host.used == 6, "nothing taken from any level")
        #expect(b.take(4) == nil && host.used == 10)
        a.give(6)
        #expect(a.used == 0 && host.used == 4 && b.used == 4)
    }

    @Test func theReserveIsKeptAtTheTopOnly() {
        let host = Budget("host", limit: 10)
        let link = Budget("link", limit: 10, parent: host)
        #expect(link.take(7, keepingFree: 3) == nil)
        #expect(link.take(1, keepingFree: 3) === host)
        #expect(link.take(1, keepingFree: 2) == nil, "a use with a smaller reserve may go further")
        #expect(link.take(UInt64.max) === link, "an overflowing take is refused, not wrapped")
    }

    @Test func theTextNamesTheQuotaAndWhatWasAsked() {
        let b = Budget("file descriptors held for this guest", limit: 4)
        _ = b.take(3)
        #expect(b.exhausted(asking: 2) == "file descriptors held for this guest: 3 of 4 in use, 2 more asked")
    }
}

@Suite struct RateLimitTests {
    @Test func aBurstThenTheRate() {
        var r = RateLimit(perSecond: 2, burst: 3)
        let t0: UInt64 = 1_000_000_000
        var admitted = 0
        for _ in 0..<4 where r.admit(now: t0) { admitted += 1 }
        #expect(admitted == 3)
        let early = r.admit(now: t0 + 400_000_000)
        #expect(!early, "0.4 s earns 0.8 of an event")
        let onTime = r.admit(now: t0 + 500_000_000)
        let again = r.admit(now: t0 + 500_000_000)
        #expect(onTime && !again)
        // A long quiet spell earns the burst back, not more.
        admitted = 0
        for _ in 0..<5 where r.admit(now: t0 + 60_000_000_000) { admitted += 1 }
        #expect(admitted == 3)
    }
}
