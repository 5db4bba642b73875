@testable import Bench
import Testing

/// Which cases the suite runs, and in which modes.
@Suite struct BenchSuiteCaseTests {
    @Test func theSuiteRunsTwoVMsOnOneHostInStreamModeOnly() {
        let twoVMs = BenchSuite.cases(quick: false).filter { $0.guests > 1 }
        #expect(twoVMs.count == 1)
        guard let c = twoVMs.first else { return }
        #expect(c.mix.map(\.description) == ["3840x2160:full", "1280x720:typing"])
        #expect(BenchMode.allCases.filter { BenchSuite.runs($0, in: c) } == [.stream])
        let options = BenchSuite.Options(quick: false, waypipeCompressions: [.none], outputDirectory: nil, command: "", portholePath: "/bin/true")
        let config = BenchSuite.configuration(c, mode: .stream, compression: .none, options: options)
        #expect(config.guests == 2 && config.modeLabel == "stream/2-guests")
        // Its own key: its runs are not mixed up with the one-VM desktop case's.
        let desktop = BenchSuite.cases(quick: false).filter { $0.isMixed && $0.guests == 1 }
        #expect(desktop.count == 2)
        #expect(!desktop.map(SuiteReport.key).contains(SuiteReport.key(c)))
    }

    @Test func theOneVMDesktopCasesRunEveryPortholeModeAndDirect() {
        let desktop = BenchSuite.cases(quick: true).filter { $0.isMixed && $0.guests == 1 }
        for c in desktop {
            #expect(Set(BenchMode.allCases.filter { BenchSuite.runs($0, in: c) }) == [.direct, .stream, .region, .cooperative])
        }
    }

    @Test func typingCasesMeasureThousandsOfFramesSoTheirP99IsNotAFewFrames() {
        let options = BenchSuite.Options(quick: false, waypipeCompressions: [.none], outputDirectory: nil, command: "", portholePath: "/bin/true")
        let typing = BenchSuite.cases(quick: false).filter { $0.pattern == .typing && !$0.isMixed }
        #expect(typing.count == 4)
        for c in typing {
            let config = BenchSuite.configuration(c, mode: .direct, compression: .none, options: options)
            #expect(config.frames * config.clients >= 4000, "\(c.sizeLabel) x\(c.clients): \(config.frames) frames a client")
            #expect(config.maxSeconds == BenchSuite.maxSeconds)
        }
        // The other patterns keep their counts (a 4K full frame is 33 MB).
        let big = BenchSuite.cases(quick: false).first { $0.width == 3840 && $0.pattern == .full && $0.clients == 1 && !$0.isMixed }
        #expect(big.map { BenchSuite.configuration($0, mode: .direct, compression: .none, options: options).frames } == 120)
    }

    @Test func theTypingTargetPairsEachModesP99WithDirectsOfTheSameRound() {
        let c = BenchSuite.Case(width: 1280, height: 720, pattern: .typing, clients: 8)
        func run(_ mode: BenchMode, round: Int, p99: Double?) -> BenchSuite.Outcome {
            var result = BenchResult(config: BenchSuite.configuration(c, mode: mode, compression: .none, options: Self.options),
                                     frames: 1000, verifiedFrames: 1000, failedFrames: 0, failures: [], fullyCheckedFrames: 34,
                                     seconds: 1, framesWaitingForRelease: 0)
            result.latencyP99 = p99
            return BenchSuite.Outcome(testCase: c, label: mode.rawValue, result: p99 == nil ? nil : result,
                                      error: p99 == nil ? "failed" : nil, round: round)
        }
        let outcomes = [
            run(.direct, round: 0, p99: 0.0050), run(.region, round: 0, p99: 0.0046), run(.cooperative, round: 0, p99: 0.0061),
            run(.region, round: 1, p99: 0.0030), run(.direct, round: 1, p99: 0.0024), run(.cooperative, round: 1, p99: nil),
            // A round whose direct run failed pairs nothing.
            run(.direct, round: 2, p99: nil), run(.region, round: 2, p99: 0.0010),
        ]
        let d = BenchSuite.roundP99Differences(c, outcomes)
        #expect(d.keys.sorted() == ["cooperative", "region"])
        #expect(zip(d["region"] ?? [], [-0.0004, 0.0006]).allSatisfy { abs($0 - $1) < 1e-12 } && d["region"]?.count == 2)
        #expect(zip(d["cooperative"] ?? [], [0.0011]).allSatisfy { abs($0 - $1) < 1e-12 } && d["cooperative"]?.count == 1)
        #expect(abs(BenchSuite.disagreement(c, outcomes).latencyRange - 0.0010) < 1e-12)
        let full = BenchSuite.Case(width: 1280, height: 720, pattern: .full, clients: 8)
        #expect(BenchSuite.roundP99Differences(full, outcomes.map { var o = $0; o.testCase = full; return o }).isEmpty,
                "only typing cases are held to direct's p99")
    }

    @Test func theMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
        #expect(median([]) == nil)
        #expect(median([3, 1, 2]) == 2)
        #expect(median([0.0009, -0.0003]).map { abs($0 - 0.0003) < 1e-12 } == true, "not the better round alone")
    }

    static let options = BenchSuite.Options(quick: false, waypipeCompressions: [.none], outputDirectory: nil, command: "", portholePath: "/bin/true")
}
