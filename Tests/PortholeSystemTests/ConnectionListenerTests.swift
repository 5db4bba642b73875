import Glibc
import PortholeSystem
import SystemTestSupport
import Testing

/// A listener that cannot accept because the process is out of
/// descriptors (EMFILE) leaves the connection queued and the socket
/// readable: retrying at once spun the host at 100% CPU until descriptors
/// came back (the adversary's first finding).
@Suite struct ConnectionListenerTests {
    @Test func aListenerOutOfDescriptorsWaitsInsteadOfSpinning() throws {
        let loop = try EventLoop()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("sock")
        let socket = try Socket.listen(.unix(path: path))
        var attempts = 0
        var outOfDescriptors = true
        var accepted: [OwnedFD] = []
        let listener = try ConnectionListener(socket: socket, loop: loop, pause: 0.1, accept: { fd throws(SystemError) in
            attempts += 1
            if outOfDescriptors { throw SystemError("accept", code: EMFILE) }
            return try Socket.accept(fd)
        }, onConnection: { accepted.append($0) })
        defer { listener.close() }
        let client = try Socket.connect(.unix(path: path))
        // Half a second: a listener retrying at once makes hundreds of thousands of attempts.
        let deadline = monotonicNow() + 500_000_000
        while monotonicNow() < deadline { loop.runOnce(timeout: 0.01) }
        #expect(attempts >= 2 && attempts <= 10, "\(attempts) accept attempts in 0.5 s")
        #expect(accepted.isEmpty && listener.pauses >= 2)
        // Descriptors come back: the waiting connection is taken.
        outOfDescriptors = false
        let later = monotonicNow() + 2_000_000_000
        while accepted.isEmpty && monotonicNow() < later { loop.runOnce(timeout: 0.01) }
        #expect(accepted.count == 1)
        _ = client
    }

    @Test func connectionsAreAcceptedUntilNoneWait() throws {
        let loop = try EventLoop()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("sock")
        var accepted: [OwnedFD] = []
        let listener = try ConnectionListener(socket: try Socket.listen(.unix(path: path)), loop: loop) { accepted.append($0) }
        defer { listener.close() }
        let clients = try (0..<5).map { _ in try Socket.connect(.unix(path: path)) }
        let deadline = monotonicNow() + 2_000_000_000
        while accepted.count < 5 && monotonicNow() < deadline { loop.runOnce(timeout: 0.01) }
        #expect(accepted.count == 5 && listener.pauses == 0)
        _ = clients
    }
}
