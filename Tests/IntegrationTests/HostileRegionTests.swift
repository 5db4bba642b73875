import Foundation
import Glibc
import Link
import PortholeSystem
import Sharing
import SystemTestSupport
import Testing
import Wayland

@Suite("Hostile guests in shared-region mode", .serialized, .tags(.processes))
struct HostileRegionTests {
    final class Setup {
        let runtime: RuntimeDir
        let weston: Weston
        let host: PortholeProcess
        let linkPath: String
        init() throws {
            runtime = try RuntimeDir()
            weston = try Weston(runtime: runtime)
            let address = LinkAddress.unix(in: runtime)
            linkPath = runtime.file("link.sock")
            host = try Porthole.startHost(runtime: runtime, link: .listen(address), display: weston.socketName,
                                          extraArguments: ["--region", runtime.file("region"), "--region-size", "4M"])
            try host.waitForListening()
        }
        func stop() {
            host.terminate()
            weston.stop()
        }
        /// Mappings of the region file in the host process.
        func hostRegionMappings() -> Int {
            let maps = (try? readProcFile("/proc/\(host.pid)/maps")) ?? ""
            return maps.split(separator: "\n").filter { $0.hasSuffix(runtime.file("region")) }.count
        }
    }

    struct Attack: Sendable, CustomStringConvertible {
        var name: String
        var logFragment: String
        var frames: @Sendable (_ regionSize: UInt64) -> [LinkFrame]
        var description: String { name }
    }

    /// The registry and region checks themselves have direct in-process
    /// tests (ProxyTests/HostChecks/HostRegionChecksTests); this one attack,
    /// which makes the host open a channel, a compositor connection and a
    /// region resource, stays here for the process-wide fd and mapping counts.
    static let attacks: [Attack] = [
        Attack(name: "pixel update sent to the region", logFragment: "takes no updates") { size in
            [.channelOpen(channel: 1, bufAlloc: 65536),
             .resourceOpen(channel: 1, resource: 5, kind: .region, size: size),
             .resourceUpdate(channel: 1, resource: 5, ranges: [UpdateRange(offset: 0, length: 4)], bytes: [1, 2, 3, 4])]
        },
    ]

    @Test("a guest breaking the registry rules loses its link; the host touches nothing and leaks nothing", arguments: attacks)
    func registryAttack(attack: Attack) throws {
        let s = try Setup()
        defer { s.stop() }
        let baseline = try restingFDCount(s.host)
        let mappings = s.hostRegionMappings()
        #expect(mappings == 1, "the host maps the header page only")

        let evil = try RawLinkGuest(path: s.linkPath)
        try evil.agreeOnRegion()
        for f in attack.frames(try #require(evil.hostRegion).size) { evil.send(f) }
        #expect(evil.waitForClose(), "the host kept the link of \(attack.name)")
        let logged = waitUntil(timeout: 5) { s.host.diagnostics(tailLines: 100).contains(attack.logFragment) }
        #expect(logged, "host log lacks '\(attack.logFragment)':\n\(s.host.diagnostics(tailLines: 20))")
        #expect(s.host.isRunning)
        evil.socket.close()
        #expect(waitUntil(timeout: 10) { (try? s.host.openFDCount()) == baseline }, "fds: \(baseline) -> \((try? s.host.openFDCount()) ?? -1)")
        #expect(s.hostRegionMappings() == mappings)
        let stats = try s.host.waitForStats("link error counted", timeout: 5) { $0["links"] == 0 && $0["link_errors", default: 0] >= 1 }
        #expect(stats["registered_buffers"] == 0, "\(stats)")
    }
}
