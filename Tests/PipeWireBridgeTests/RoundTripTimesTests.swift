import Testing
@testable import PipeWireBridge

@Suite struct RoundTripTimesTests {
    @Test func percentilesAreOfTheSortedSamplesInMilliseconds() {
        var t = RoundTripTimes()
        #expect(t.text == "")
        for ms in [5, 1, 3, 2, 4, 100, 6, 7, 8, 9] as [UInt64] { t.add(nanoseconds: ms * 1_000_000) }
        #expect(t.milliseconds(0.5) == 5)
        #expect(t.milliseconds(0.99) == 100)
        #expect(t.text == "; copy to release p50 5.00 ms, p99 100.00 ms")
    }

    @Test func samplesPastTheCapacityAreNotKept() {
        var t = RoundTripTimes()
        for _ in 0..<RoundTripTimes.capacity { t.add(nanoseconds: 1_000_000) }
        t.add(nanoseconds: 900_000_000)
        #expect(t.milliseconds(1) == 1)
    }
}
