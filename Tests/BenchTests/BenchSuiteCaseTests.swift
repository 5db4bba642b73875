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
}
