import Foundation
import Glibc
import PortholeSystem
import SystemTestSupport
import Testing

/// The guest proxy getting a new link when its link drops: a host proxy is
/// killed and started again while the guest, its Wayland socket and (in
/// run-command mode) its command stay up.
@Suite("Guest link re-establishment", .serialized, .tags(.processes))
struct ReconnectTests {
    /// Weston, a host proxy listening on a unix link, and a guest connecting
    /// to it; the host can be killed and started again on the same address.
    final class Setup {
        let runtime: RuntimeDir
        let weston: Weston
        let address: LinkAddress
        private(set) var hosts: [PortholeProcess] = []

        init() throws {
            runtime = try RuntimeDir()
            weston = try Weston(runtime: runtime)
            address = .unix(in: runtime)
        }

        var host: PortholeProcess? { hosts.last }

        @discardableResult
        func startHost() throws -> PortholeProcess {
            let host = try Porthole.startHost(runtime: runtime, link: .listen(address), display: weston.socketName)
            hosts.append(host)
            try host.waitForListening()
            return host
        }

        func startGuest(socketName: String, arguments: [String] = [], command: [String] = []) throws -> PortholeProcess {
            try Porthole.startGuest(runtime: runtime, link: .connect(address), socketName: socketName,
                                    extraArguments: arguments, command: command)
        }

        func waylandInfo(_ socketName: String) throws -> [String: Int] {
            parseWaylandInfoGlobals(try Weston.waylandInfo(display: socketName, runtime: runtime))
        }

        func stop() {
            for h in hosts { h.terminate() }
            weston.stop()
        }
    }

    /// wl_display.get_registry and a sync, as a client's first requests. The
    /// guest may have refused and closed the connection already; like
    /// libwayland, ignore EPIPE then and go on to read the error.
    private func sayHello(_ client: RawWaylandClient) throws {
        do {
            try client.send(1, 1, [.newID(2)])
            try client.send(1, 0, [.newID(3)])
        } catch let error as SystemError where error.code == EPIPE || error.code == ECONNRESET {}
    }

    @Test("a host proxy restart: clients get an error during the outage, and the same guest socket works again")
    func guestSurvivesAHostRestart() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let firstHost = try setup.startHost()
        let guest = try setup.startGuest(socketName: "wayland-rc")
        defer { guest.terminate() }
        try guest.waitForSocket()
        let socketPath = try #require(guest.socketPath)
        #expect(try setup.waylandInfo("wayland-rc")["wl_compositor"] != nil, "\(guest.diagnostics())")

        // A client connected when the link drops gets an error and is closed.
        let connected = try RawWaylandClient(path: socketPath)
        #expect(try connected.registryGlobals()["wl_compositor"] != nil)
        firstHost.process.kill()
        let dropped = try connected.expectErrorAndClose(timeout: 10)
        #expect(dropped?.2.contains("the link to the host closed") == true, "\(String(describing: dropped))")
        _ = try guest.waitForStats("the guest to notice the link is gone", timeout: 10) { $0["links"] == 0 }
        #expect(guest.isRunning, "\(guest.diagnostics())")

        // During the outage: a prompt Wayland error, never a hang.
        let started = Date()
        let during = try RawWaylandClient(path: socketPath)
        try sayHello(during)
        let refused = try during.expectErrorAndClose(timeout: 10)
        let waited = Date().timeIntervalSince(started)
        #expect(refused?.0 == 1 && refused?.1 == 3, "wl_display.error implementation: \(String(describing: refused))")
        #expect(refused?.2.contains("no link to the host proxy") == true, "\(String(describing: refused))")
        #expect(waited < 3, "refused after \(waited) s")
        let info = try runCommand("wayland-info", environment: setup.runtime.clientEnvironment(display: "wayland-rc"),
                                  logDirectory: setup.runtime.path, timeout: 10, check: false)
        #expect(info.stderr.contains("no link to the host proxy"), "wayland-info's stderr: \(info.stderr)")

        // The host comes back on the same address; the guest reconnects and
        // its socket (never removed) serves clients again.
        #expect(isSocket(socketPath))
        let secondHost = try setup.startHost()
        _ = try guest.waitForStats("the guest to reconnect", timeout: 15) { $0["links"] == 1 }
        #expect(try setup.waylandInfo("wayland-rc")["wl_compositor"] != nil, "\(guest.diagnostics())\n\(secondHost.diagnostics())")
        let app = try guest.startClient("weston-simple-shm")
        defer { app.terminate() }
        let stats = try guest.waitForStats("frames through the new link", timeout: 20) { $0["commits", default: 0] >= 10 }
        #expect(stats["link_errors"] == 0)
        #expect(app.isRunning, "\(app.diagnostics())")
        #expect(guest.isRunning)
    }

    @Test("a guest started before its host keeps trying, then serves clients")
    func guestWaitsForAHost() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let guest = try setup.startGuest(socketName: "wayland-early")
        defer { guest.terminate() }
        usleep(700_000)
        #expect(guest.isRunning, "\(guest.diagnostics())")
        #expect(guest.socketPath.map(isSocket) == false, "no Wayland socket before the first link")
        try setup.startHost()
        try guest.waitForSocket(timeout: 15)
        #expect(try setup.waylandInfo("wayland-early")["wl_compositor"] != nil)
    }

    @Test("with -- CMD the guest reconnects, and still exits with the command's status")
    func runCommandOutlivesALinkDrop() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let host = try setup.startHost()
        let marker = setup.runtime.file("go")
        let guest = try setup.startGuest(
            socketName: "wayland-cmd",
            command: ["sh", "-c", "while [ ! -e \(marker) ]; do sleep 0.05; done; wayland-info >/dev/null && exit 9"])
        defer { guest.terminate() }
        try guest.waitForSocket()
        host.process.kill()
        _ = try guest.waitForStats("the link to drop", timeout: 10) { $0["links"] == 0 }
        #expect(guest.isRunning, "the guest waits for its command: \(guest.diagnostics())")
        try setup.startHost()
        _ = try guest.waitForStats("the guest to reconnect", timeout: 15) { $0["links"] == 1 }
        #expect(FileManager.default.createFile(atPath: marker, contents: nil))
        #expect(guest.waitForExit(timeout: 20) == .exited(9), "\(guest.diagnostics())")
    }

    @Test("--no-reconnect: the guest exits with status 1 when the link drops")
    func noReconnectExits() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let host = try setup.startHost()
        let guest = try setup.startGuest(socketName: "wayland-once", arguments: ["--no-reconnect"])
        defer { guest.terminate() }
        try guest.waitForSocket()
        host.process.kill()
        #expect(guest.waitForExit(timeout: 10) == .exited(1), "\(guest.diagnostics())")
        #expect(guest.socketPath.map(isSocket) == false, "the socket is removed at exit")
    }
}
