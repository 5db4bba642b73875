@testable import Bench
import Foundation
import Testing

/// `--frame-log`: every measured frame of every run, one CSV line each.
@Suite struct FrameLogTests {
    @Test("two runs into one frame log give one header and a line per measured frame, whose latency is its arrival minus its commit")
    func twoRunsAppendOneLinePerFrame() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("porthole-frame-log-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = BenchConfig(mode: .direct)
        config.width = 160
        config.height = 100
        config.pattern = .typing
        config.clients = 2
        config.frames = 12
        config.warmup = 2
        config.frameLog = path
        let first = try BenchRunner.run(config)
        config.clients = 1
        let second = try BenchRunner.run(config)
        #expect(first.passed && second.passed)

        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == FrameLog.header.trimmingCharacters(in: .newlines))
        #expect(lines.filter { $0 == lines.first }.count == 1, "the header is written once")
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == 2 * 12 + 12)
        for r in rows {
            #expect(r.count == 8)
            let frame = try #require(Int(r[4])), committed = try #require(UInt64(r[5])), arrived = try #require(UInt64(r[6]))
            #expect((2..<14).contains(frame), "warm-up frames are left out")
            #expect(arrived >= committed && committed > 0)
            let latency = try #require(Double(r[7]))
            #expect(abs(latency - Double(arrived - committed) / 1e6) < 0.001)
        }
        #expect(Set(rows.prefix(24).map { $0[2] }) == ["0", "1"], "the first run's two clients")
        #expect(Set(rows.suffix(12).map { $0[2] }) == ["0"])
    }

    @Test("a frame that never arrived has an empty latency, not a negative one")
    func missingArrivalLeavesLatencyEmpty() {
        var config = BenchConfig(mode: .stream)
        config.width = 64
        config.height = 32
        let text = FrameLog.lines([FrameLog.Row(client: 0, frame: 5, committed: 2_000_000, arrived: 0)], config: config)
        #expect(text == "stream,64x32,0,64x32:full,5,2000000,0,\n")
    }
}
