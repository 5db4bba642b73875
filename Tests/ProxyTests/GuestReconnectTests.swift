import Glibc
import Link
import PortholeSystem
import Proxy
import SystemTestSupport
import Testing

/// Runs `loop` until `condition` holds or `seconds` pass (all on the loop's
/// thread: everything here is non-blocking). Returns the condition.
@discardableResult
private func run(_ loop: EventLoop, seconds: Double = 10, until condition: @escaping () -> Bool) throws -> Bool {
    var timedOut = false
    let check = try loop.addTimer(nanoseconds: 2_000_000) { [unowned loop] in if condition() { loop.stop() } }
    let deadline = try loop.addTimer(nanoseconds: UInt64(seconds * 1e9), repeating: false) { [unowned loop] in
        timedOut = true
        loop.stop()
    }
    loop.run()
    loop.unregister(check)
    loop.unregister(deadline)
    if timedOut { Issue.record("condition still false after \(seconds) s") }
    return condition()
}

/// A unix listener on the loop that accepts every connection and keeps it,
/// saying nothing: a "host" that never completes the handshake.
private final class SilentHost {
    let listener: OwnedFD
    private(set) var connections: [OwnedFD] = []
    private var token: EventLoop.Token?

    init(path: String, loop: EventLoop) throws {
        listener = try Socket.listen(.unix(path: path))
        token = try loop.register(listener.rawValue, events: .readable) { [unowned self] _ in
            while let c = try? Socket.accept(self.listener) { self.connections.append(c) }
        }
    }

    /// Whether the guest closed connection `i` (end of stream after its hello).
    func isClosed(_ i: Int) -> Bool {
        guard i < connections.count else { return false }
        var buf = [UInt8](repeating: 0, count: 256)
        while true {
            let n = recv(connections[i].rawValue, &buf, buf.count, Int32(MSG_DONTWAIT))
            if n == 0 { return true }
            if n < 0 { return false }
        }
    }
}

@Suite("Guest proxy link re-establishment") struct GuestReconnectTests {
    @Test func retriesAMissingHostUntilItAppears() throws {
        let directory = try TemporaryDirectory(prefix: "porthole-guest")
        defer { directory.remove() }
        let dir = directory.path
        let loop = try EventLoop()
        let proxy = GuestProxy(loop: loop, socketPath: dir + "/wayland-test")
        proxy.retryDelays = (0.05, 0.2)
        var gaveUp: String?
        proxy.onLinkClosed = { gaveUp = $0 }
        try proxy.connect(to: .unix(path: dir + "/absent.sock"))
        // Attempts at about 0, 0.05, 0.15, 0.35, 0.55, ...: then the host appears.
        var host: SilentHost?
        try loop.addTimer(nanoseconds: 700_000_000, repeating: false) { [unowned loop] in
            host = try? SilentHost(path: dir + "/absent.sock", loop: loop)
        }
        #expect(try run(loop) { host?.connections.isEmpty == false })
        #expect(gaveUp == nil)
        proxy.shutdown()
    }

    @Test func aHostThatNeverSaysHelloIsLeftAndDialledAgain() throws {
        let directory = try TemporaryDirectory(prefix: "porthole-guest")
        defer { directory.remove() }
        let dir = directory.path
        let loop = try EventLoop()
        let host = try SilentHost(path: dir + "/link.sock", loop: loop)
        let proxy = GuestProxy(loop: loop, socketPath: dir + "/wayland-test")
        proxy.retryDelays = (0.05, 0.2)
        proxy.connectTimeout = 0.3
        try proxy.connect(to: .unix(path: dir + "/link.sock"))
        #expect(try run(loop) { host.connections.count >= 2 })
        #expect(host.isClosed(0), "the first connection was given up")
        #expect(!FileManagerLite.exists(dir + "/wayland-test"), "no Wayland socket without a link")
        proxy.shutdown()
    }

    @Test func withoutReconnectAFailedConnectIsReported() throws {
        let directory = try TemporaryDirectory(prefix: "porthole-guest")
        defer { directory.remove() }
        let dir = directory.path
        let loop = try EventLoop()
        let proxy = GuestProxy(loop: loop, socketPath: dir + "/wayland-test")
        proxy.reconnect = false
        var gaveUp: String?
        proxy.onLinkClosed = { gaveUp = $0 }
        try proxy.connect(to: .unix(path: dir + "/absent.sock"))
        #expect(try run(loop) { gaveUp != nil })
        #expect(gaveUp?.hasPrefix("cannot connect to the host proxy: connect unix:\(dir)/absent.sock") == true, "\(gaveUp ?? "")")
    }

    @Test func aGuestAndHostProxyPairRecoverFromALinkDrop() throws {
        // Host and guest proxies in one loop, joined over a unix link; the
        // host side is shut down and a new host proxy takes its place.
        let directory = try TemporaryDirectory(prefix: "porthole-guest")
        defer { directory.remove() }
        let dir = directory.path
        let loop = try EventLoop()
        let linkPath = dir + "/link.sock"
        var host: HostProxy? = HostProxy(loop: loop, displayPath: dir + "/no-compositor")
        try host!.listen(on: .unix(path: linkPath))
        let guest = GuestProxy(loop: loop, socketPath: dir + "/wayland-test")
        guest.retryDelays = (0.05, 0.2)
        var ready = 0
        guest.onReady = { ready += 1 }
        try guest.connect(to: .unix(path: linkPath))
        #expect(try run(loop) { hasLink(guest) })
        #expect(ready == 1)
        host!.shutdown()
        host = nil
        #expect(try run(loop) { !(hasLink(guest)) })
        let second = HostProxy(loop: loop, displayPath: dir + "/no-compositor")
        try second.listen(on: .unix(path: linkPath))
        #expect(try run(loop) { hasLink(guest) })
        #expect(ready == 1, "onReady is reported once")
        guest.shutdown()
        second.shutdown()
    }
}

private func hasLink(_ guest: GuestProxy) -> Bool { guest.statsJSON().contains("\"links\": 1,") }

private enum FileManagerLite {
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }
}
