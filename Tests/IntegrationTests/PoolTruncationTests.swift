import Foundation
import Glibc
import PortholeSystem
import SystemTestSupport
import Testing
import Wayland

/// A guest client that shrinks the file behind its wl_shm pool while the
/// guest proxy reads it. Reading a mapping past the end of its file raises
/// SIGBUS; the guest proxy must end only that client (with wl_shm's
/// invalid_fd error, as a compositor does) and keep serving the others.
@Suite("A client shrinking its pool file mid-read", .serialized, .tags(.processes))
struct PoolTruncationTests {
    enum Mode: String, Sendable, CaseIterable { case stream, region }
    /// How much of the buffer the client changes each frame: a little (the
    /// proxy compares), or all of it (after one such commit the proxy copies
    /// without comparing).
    enum Change: String, Sendable, CaseIterable { case firstPage, everything }

    private static let width = 1920, height = 1080
    private static let stride = width * 4
    private static var poolSize: Int { stride * height }

    @Test("the client is ended with a wl_shm error; the guest proxy and its other clients carry on",
          arguments: Mode.allCases, Change.allCases)
    func truncatedMidRead(mode: Mode, change: Change) throws {
        let chain = try RecordedProxies(
            hostArguments: { mode == .region ? ["--region", $0.file("region"), "--region-size", "32M"] : [] },
            guestArguments: { mode == .region ? ["--region", $0.file("region")] : [] })
        defer { chain.stop() }
        let socket = try #require(chain.guest.socketPath)
        let restingFDs = try restingFDCount(chain.guest)

        // Round after round, a client commits a full-size buffer while a
        // thread shrinks and regrows its file, until the guest proxy has
        // caught a fault inside a read (the size check before each read
        // catches most shrinks first, which also ends the client).
        var rounds = 0, endedByError = 0
        let deadline = monotonicSeconds() + 60
        while try chain.guest.stats()["memory_faults", default: 0] == 0 && monotonicSeconds() < deadline {
            rounds += 1
            if let error = try shrinkingClientRound(socket: socket, change: change) {
                endedByError += 1
                #expect(error.code == 2 && error.message.contains("error accessing SHM buffer"), "round \(rounds): \(error)")
            }
            #expect(chain.guest.isRunning, "the guest proxy ended in round \(rounds)\n\(chain.guest.diagnostics())")
            if !chain.guest.isRunning { return }
        }
        let stats = try chain.guest.stats()
        print("pool truncation (\(mode.rawValue), \(change.rawValue) changing): \(rounds) rounds, \(endedByError) clients ended with a wl_shm error, memory_faults \(stats["memory_faults", default: 0])")
        #expect(stats["memory_faults", default: 0] >= 1, "no read ever faulted in \(rounds) rounds: the test did not reach the race")
        if mode == .region { #expect(stats["region_pools", default: 0] >= 1) }

        // Every ended client's pool, mapping and socket are gone.
        try chain.guest.waitForFDs(backTo: restingFDs)

        // Another client of the same guest still gets answers.
        let bystander = try RawWaylandClient(path: socket)
        let globals = try bystander.registryGlobals()
        #expect(globals["wl_compositor"] != nil)
        #expect(chain.guest.isRunning && chain.host.isRunning)
        #expect(try chain.host.stats()["link_errors"] == 0)
    }

    /// One client: pool, buffer, surface, then commits while another thread
    /// shrinks and regrows the pool file. Returns the wl_display.error the
    /// client got, or nil if it ran out of commits without one.
    private func shrinkingClientRound(socket: String, change: Change) throws -> (object: UInt32, code: UInt32, message: String)? {
        let c = try RawWaylandClient(path: socket)
        let globals = try c.registryGlobals()
        let compositor = try #require(globals["wl_compositor"]), shm = try #require(globals["wl_shm"])
        try c.send(2, 0, [.uint(compositor.0), .untypedNewID(interface: Array("wl_compositor".utf8), version: 4, id: 4)])
        try c.send(2, 0, [.uint(shm.0), .untypedNewID(interface: Array("wl_shm".utf8), version: 1, id: 5)])
        let memfd = try Memfd.create(name: "shrinking-pool", size: Self.poolSize)
        let writer = try SharedMapping(fd: memfd, size: Self.poolSize)
        memset(writer.base!, 0x5A, Self.poolSize)
        try c.send(5, 0, [.newID(6), .fd, .int(Int32(Self.poolSize))], fds: [try memfd.duplicate()])
        try c.send(6, 0, [.newID(7), .int(0), .int(Int32(Self.width)), .int(Int32(Self.height)), .int(Int32(Self.stride)), .uint(1)])
        try c.send(4, 0, [.newID(8)])
        // The pool exists at its full size before the shrinking starts.
        try c.send(1, 0, [.newID(9)])
        var received = try c.readMessages(until: { $0.contains { $0.0 == 9 } })
        #expect(received.contains { $0.0 == 9 }, "no reply to the sync after creating the pool")

        // The shrinking thread: full size for a random 0-3 ms, then 4 KiB for 0.2 ms.
        let stop = ManagedAtomicFlag()
        let raw = memfd.rawValue
        let shrinker = Thread {
            while !stop.isSet {
                usleep(UInt32.random(in: 0...3000))
                _ = ftruncate(raw, 4096)
                usleep(200)
                _ = ftruncate(raw, off_t(Self.poolSize))
            }
        }
        shrinker.start()
        defer {
            stop.set()
            while !shrinker.isFinished { usleep(1000) }
        }

        var fullFrame = [UInt8](repeating: 0, count: change == .everything ? Self.poolSize : 0)
        for frame in 0..<200 {
            // Something changes every frame, so the proxy has bytes to move.
            // Through the mapping only in the first page, which the shrinking
            // thread never cuts (a store past it would fault this test
            // process); the whole buffer with pwrite, which cannot fault.
            switch change {
            case .firstPage:
                memset(writer.base!, Int32(frame & 0xFF), 4096)
            case .everything:
                _ = fullFrame.withUnsafeMutableBytes { memset($0.baseAddress!, Int32(frame & 0xFF), $0.count) }
                _ = fullFrame.withUnsafeBytes { pwrite(raw, $0.baseAddress!, $0.count, 0) }
            }
            do {
                try c.send(8, 1, [.object(7), .int(0), .int(0)])
                try c.send(8, 9, [.int(0), .int(0), .int(Int32(Self.width)), .int(Int32(Self.height))])
                try c.send(8, 6, [])
            } catch {
                break  // the proxy already hung up on this client
            }
            received += try c.readMessages(until: { _ in true }, timeout: 0.005)
            if c.sawEOF || received.contains(where: { $0.0 == 1 && $0.1 == 0 }) { break }
        }
        received += try c.readMessages(until: { _ in false }, timeout: c.sawEOF ? 0 : 0.2)
        guard let error = try RawWaylandClient.displayError(in: received) else { return nil }
        return (error.0, error.1, error.2)
    }
}

/// A flag one thread sets and another polls.
private final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
