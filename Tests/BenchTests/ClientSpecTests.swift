import Bench
import Testing

@Suite struct ClientSpecTests {
    @Test func aClientArgumentGivesItsSizeAndPattern() {
        #expect(ClientSpec(argument: "3840x2160:full") == ClientSpec(width: 3840, height: 2160, pattern: .full))
        #expect(ClientSpec(argument: "1280X720:Typing") == ClientSpec(width: 1280, height: 720, pattern: .typing))
        #expect(ClientSpec(argument: "640x480:scattered")?.description == "640x480:scattered")
    }

    @Test func aRateAfterThePatternCapsTheClientsFramesPerSecond() {
        #expect(ClientSpec(argument: "3840x2160:full@60") == ClientSpec(width: 3840, height: 2160, pattern: .full, rate: 60))
        #expect(ClientSpec(argument: "3840x2160:full@60")?.description == "3840x2160:full@60")
        #expect(ClientSpec(argument: "3840x2160:full@60")?.frameInterval == 16_666_666)
        #expect(ClientSpec(argument: "3840x2160:full")?.frameInterval == nil)
    }

    @Test(arguments: ["", "1280x720", "1280x720:", ":typing", "1280x720:video", "0x720:full", "1280x16385:full",
                      "1280x720x3:full", "1280x720:full:full", "-5x720:band", "axb:full",
                      "1280x720:full@", "1280x720:full@0", "1280x720:full@1001", "1280x720:full@60@60", "1280x720:full@x", "1280x720@60:full"])
    func anArgumentThatIsNotSizeAndPatternIsRefused(_ text: String) {
        #expect(ClientSpec(argument: text) == nil)
    }

    @Test func aMixedConfigurationListsItsOwnClientsAndAPlainOneRepeatsItsSize() {
        var config = BenchConfig(mode: .direct)
        config.width = 320
        config.height = 200
        config.clients = 3
        #expect(config.clientSpecs == Array(repeating: ClientSpec(width: 320, height: 200, pattern: .full), count: 3))
        #expect(!config.isMixed)
        config.mix = [ClientSpec(width: 640, height: 360, pattern: .full), ClientSpec(width: 160, height: 100, pattern: .typing)]
        #expect(config.clientCount == 2 && config.isMixed)
        #expect(config.layoutLabel == "640x360:full + 160x100:typing")
    }
}

/// A mixed run in-process (direct mode: no proxies), every frame of both clients verified.
@Suite struct MixedRunTests {
    @Test func aMixedDirectRunVerifiesEveryFrameOfEachClientAndComparesWithEachAlone() throws {
        var config = BenchConfig(mode: .direct)
        config.mix = [ClientSpec(width: 320, height: 200, pattern: .full), ClientSpec(width: 200, height: 120, pattern: .typing)]
        config.frames = 30
        config.fullCheckInterval = 7
        let c = try MixedComparison.run(config)
        #expect(c.passed, "\(c.mixed.failures)")
        #expect(c.mixed.perClient.count == 2 && c.alone.count == 2)
        #expect(c.mixed.perClient.map(\.spec) == config.mix)
        // The run stops when the first client has drawn its 30 frames; the other drew at least one.
        #expect(c.mixed.perClient.map(\.frames).max() == 30)
        #expect(c.mixed.perClient.allSatisfy { $0.frames >= 1 && $0.latencyP99 != nil })
        #expect(c.mixed.frames == c.mixed.perClient.reduce(0) { $0 + $1.frames })
        #expect(c.alone.map { $0.perClient.first?.frames } == [30, 30])
        #expect(c.p99Ratio(client: 1) != nil)
        #expect(MixedComparison.table([c]).contains("200x120:typing"))
    }

    @Test func aClientWithARateDrawsNoFasterThanItsRate() throws {
        var config = BenchConfig(mode: .direct)
        config.mix = [ClientSpec(width: 160, height: 100, pattern: .full, rate: 50), ClientSpec(width: 160, height: 100, pattern: .typing)]
        config.frames = 100_000
        config.maxSeconds = 1
        let c = try MixedComparison.run(config)
        #expect(c.passed, "\(c.mixed.failures)")
        // 50 a second over about a second of measuring (the unpaced client alone draws thousands).
        let paced = try #require(c.mixed.perClient.first)
        #expect(paced.fps <= 55 && paced.fps >= 25, "paced client: \(paced.fps) fps")
        #expect(try #require(c.alone.first?.perClient.first).fps <= 55)
        #expect(c.mixed.perClient[1].fps > 200)
    }
}
