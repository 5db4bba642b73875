import Foundation
import Glibc
import SystemTestSupport
import Testing
import Wayland

/// `--protocol FILE.xml` on both proxies: extra protocols at start, and a
/// clear start-up error for a file that cannot be used.
@Suite("--protocol: protocol XML loaded at start", .serialized, .tags(.processes))
struct ProtocolOptionTests {
    /// A protocol sway 1.7 offers that the built-in tables lack (and that
    /// carries no fds): wlroots' output power management, described here
    /// from its interface facts.
    static let outputPowerXML = """
        <?xml version="1.0" encoding="UTF-8"?>
        <protocol name="wlr_output_power_management_unstable_v1">
          <interface name="zwlr_output_power_manager_v1" version="1">
            <request name="get_output_power">
              <arg name="id" type="new_id" interface="zwlr_output_power_v1"/>
              <arg name="output" type="object" interface="wl_output"/>
            </request>
            <request name="destroy" type="destructor"/>
          </interface>
          <interface name="zwlr_output_power_v1" version="1">
            <request name="set_mode"><arg name="mode" type="uint"/></request>
            <request name="destroy" type="destructor"/>
            <event name="mode"><arg name="mode" type="uint"/></event>
            <event name="failed"/>
          </interface>
        </protocol>

        """

    static let malformedXML = """
        <?xml version="1.0"?>
        <protocol name="broken">
          <interface name="broken_v1" version="1">
            <request name="oops"><arg name="x" type="float"/></request>
          </interface>
        </protocol>

        """

    @Test("a malformed --protocol file stops the process at start, naming the file",
          arguments: [PortholeProcess.Role.host, .guest])
    func malformedFileIsAStartupError(role: PortholeProcess.Role) throws {
        let runtime = try RuntimeDir()
        let bad = runtime.file("bad-protocol.xml")
        try Self.malformedXML.write(toFile: bad, atomically: true, encoding: .utf8)
        let good = runtime.file("good-protocol.xml")
        try Self.outputPowerXML.write(toFile: good, atomically: true, encoding: .utf8)
        let address = LinkAddress.unix(in: runtime)
        let args = ["--protocol", good, "--protocol", bad]
        let process = role == .host
            ? try Porthole.startHost(runtime: runtime, link: .listen(address), display: "wayland-none", extraArguments: args)
            : try Porthole.startGuest(runtime: runtime, link: .listen(address), extraArguments: args)
        defer { process.terminate() }
        let exit = try #require(process.waitForExit(timeout: 10), "porthole \(role) kept running\n\(process.diagnostics())")
        #expect(!exit.succeeded)
        let stderr = process.process.stderr
        #expect(stderr.contains(bad), "stderr does not name \(bad): \(stderr)")
        #expect(stderr.contains("unknown arg type 'float'"), "\(stderr)")
        #expect(!address.isListening, "porthole \(role) got as far as listening")

        // A file that does not exist is the same kind of error.
        let missing = runtime.file("missing.xml")
        let again = role == .host
            ? try Porthole.startHost(runtime: runtime, link: .listen(address), display: "wayland-none", extraArguments: ["--protocol", missing])
            : try Porthole.startGuest(runtime: runtime, link: .listen(address), extraArguments: ["--protocol", missing])
        defer { again.terminate() }
        let exit2 = try #require(again.waitForExit(timeout: 10))
        #expect(!exit2.succeeded)
        #expect(again.process.stderr.contains(missing), "\(again.process.stderr)")
    }

    @Test("a global the built-in tables lack is offered to guest clients once both proxies load its XML")
    func extraProtocolExposesAGlobal() throws {
        let runtime = try RuntimeDir()
        let xml = runtime.file("output-power.xml")
        try Self.outputPowerXML.write(toFile: xml, atomically: true, encoding: .utf8)

        // The global grants output management: the host allows it, so only the XML decides.
        let plain = try ProxiedSway(allow: ["output-management"])
        let without = parseWaylandInfoGlobals(try Weston.waylandInfo(display: plain.guest.socketName!, runtime: plain.runtime))
        let direct = parseWaylandInfoGlobals(try Weston.waylandInfo(display: plain.sway.socketPath, runtime: plain.runtime))
        plain.stop()
        #expect(direct["zwlr_output_power_manager_v1"] == 1, "sway itself should offer it")
        #expect(without["zwlr_output_power_manager_v1"] == nil, "hidden without --protocol")

        let chain = try ProxiedSway(allow: ["output-management"], hostArguments: ["--protocol", xml], guestArguments: ["--protocol", xml])
        defer { chain.stop() }
        let with = parseWaylandInfoGlobals(try Weston.waylandInfo(display: chain.guest.socketName!, runtime: chain.runtime))
        #expect(with["zwlr_output_power_manager_v1"] == 1, "\(chain.diagnostics())")
        #expect(chain.host.process.stderr.contains("loaded 1 protocol file(s): \(xml)"))
        #expect(chain.guest.process.stderr.contains("loaded 1 protocol file(s): \(xml)"))

        // A guest client can use it: bind it and ask for an output's power
        // mode, which sway answers through both proxies.
        let probe = try WaylandProbe(socketPath: chain.guest.socketPath!, tables: try ProtocolTables.builtin.adding(protocolFiles: [xml]))
        defer { probe.close() }
        let manager = try probe.bind("zwlr_output_power_manager_v1", version: 1)
        let output = try probe.bind("wl_output", version: 4)
        let power = probe.newID()
        try probe.send(manager, "get_output_power", [.newID(power), .object(output)])
        try probe.wait("zwlr_output_power_v1.mode") { $0.events.contains { $0.objectID == power && $0.name == "mode" } }
        #expect(probe.events.first { $0.objectID == power && $0.name == "mode" }?.uint(0) == 1, "output is on")
        #expect(try chain.host.stats()["client_errors"] == 0)
        #expect(try chain.guest.stats()["client_errors"] == 0)
    }
}
