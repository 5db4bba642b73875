import Foundation
import Glibc
import SystemTestSupport
import Testing

/// A bench stopped by a signal takes its helpers with it: they run in
/// process groups of their own, so nothing else would reach them.
@Suite(.tags(.processes)) struct BenchSignalProcessTests {
    /// The pids whose parent is `parent`, from /proc.
    static func children(of parent: pid_t) -> [pid_t] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // After "(comm)": state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
        }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aBenchEndedByASignalLeavesNoProxyRunning(signal: Int32) throws {
        let bench = Process()
        bench.executableURL = URL(fileURLWithPath: try BenchRunTests.portholeBinary())
        bench.arguments = ["bench", "--mode", "stream", "--size", "256x160", "--frames", "1000000"]
        bench.standardOutput = FileHandle.nullDevice
        bench.standardError = FileHandle.nullDevice
        try bench.run()
        defer { if bench.isRunning { kill(bench.processIdentifier, SIGKILL) } }
        // Both proxies started (the compositor is the bench's own thread).
        var helpers: [pid_t] = []
        let deadline = Date(timeIntervalSinceNow: 20)
        while helpers.count < 2 && Date() < deadline {
            usleep(100_000)
            helpers = Self.children(of: bench.processIdentifier)
        }
        try #require(helpers.count >= 2, "the bench started \(helpers.count) helpers")
        // The run's directory (sockets, logs), from a proxy's command line.
        let runtime = helpers.lazy.compactMap(Self.runtimeDirectory(of:)).first
        try #require(runtime != nil, "no /tmp/porthole-bench-* in the helpers' command lines")
        kill(bench.processIdentifier, signal)
        bench.waitUntilExit()
        #expect(bench.terminationReason == .exit && bench.terminationStatus == 128 + signal)
        // Orphans would be adopted by init and keep running; killed ones are gone.
        let gone = Date(timeIntervalSinceNow: 5)
        var left = helpers.filter { kill($0, 0) == 0 }
        while !left.isEmpty && Date() < gone {
            usleep(50_000)
            left = left.filter { kill($0, 0) == 0 }
        }
        #expect(left.isEmpty, "still running after the bench: \(left)")
        // Nor does it leave its run's directory in /tmp.
        let leftDirectory = runtime.map { FileManager.default.fileExists(atPath: $0) } ?? true
        #expect(!leftDirectory, "\(runtime ?? "?") is still there")
    }

    /// The bench's runtime directory a helper was started with: the
    /// directory of the first /tmp/porthole-bench-* path in its arguments.
    static func runtimeDirectory(of pid: pid_t) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        for argument in data.split(separator: 0).map({ String(decoding: $0, as: UTF8.self) }) {
            guard let start = argument.range(of: "/tmp/porthole-bench-") else { continue }
            let path = argument[start.lowerBound...]
            let end = path.dropFirst("/tmp/porthole-bench-".count).firstIndex(of: "/") ?? path.endIndex
            return String(path[..<end])
        }
        return nil
    }
}
