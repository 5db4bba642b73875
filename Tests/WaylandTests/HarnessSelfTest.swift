import Foundation
import Glibc
@testable import Harness
import SystemTestSupport
import Testing
import Wayland

/// The pattern client against the recording compositor, with no proxy in
/// between: what the compositor records must be exactly what the client drew.
@Suite struct HarnessSelfTest {
    /// Runs `body` with a started compositor on a fresh socket.
    static func withCompositor(frameInterval: Duration = .milliseconds(2), bufferRelease: BufferRelease = .afterCopy,
                                _ body: (RecordingCompositor) throws -> Void) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("sock")
        let compositor = RecordingCompositor(socketPath: path, frameInterval: frameInterval, bufferRelease: bufferRelease)
        try compositor.start()
        defer { compositor.stop() }
        try body(compositor)
    }

    @Test func recordedFramesEqualTheClientsFrames() throws {
        try Self.withCompositor { compositor in
            let client = try PatternClient(socketPath: compositor.socketPath, width: 96, height: 64)
            defer { client.close() }
            #expect(client.configureCount >= 1)
            #expect(client.shmFormats.isSuperset(of: [0, 1]))
            #expect(Set(client.globals.map(\.interface)) == ["wl_compositor", "wl_shm", "xdg_wm_base"])
            let damages: [Damage] = [
                .full,
                .rect(x: 10, y: 5, width: 30, height: 20),
                .rect(x: 50, y: 30, width: 46, height: 34),
                .rect(x: 0, y: 0, width: 1, height: 1),
                .rect(x: 80, y: 60, width: 100, height: 100), // clipped to the surface
            ]
            var previous = [UInt8](repeating: 0, count: 96 * 64 * 4)
            for (n, damage) in damages.enumerated() {
                let expected = try client.drawFrame(n, damage: damage)
                try client.waitForFrameCallback()
                #expect(compositor.waitForCommits(n + 1, timeout: .seconds(10)))
                let commit = try #require(compositor.commits.last)
                #expect(compositor.commitCount == n + 1)
                #expect(commit.width == 96 && commit.height == 64 && commit.stride == 96 * 4 && commit.format == 1)
                #expect(commit.bytes == expected, "frame \(n) differs from what the client drew")
                checkFrame(expected, previous: n == 0 ? nil : previous, frame: n, damage: damage.clipped(width: 96, height: 64))
                previous = expected
            }
            #expect(compositor.postedErrors.isEmpty)
        }
    }

    /// The client's own expected image follows the contract: the pattern of
    /// frame n inside the damage, the previous frame (or black) elsewhere.
    private func checkFrame(_ bytes: [UInt8], previous: [UInt8]?, frame: Int, damage r: (x: Int, y: Int, width: Int, height: Int)) {
        var wrong = 0
        for y in 0..<64 {
            for x in 0..<96 {
                let i = (y * 96 + x) * 4
                let pixel = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
                let inside = x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
                let want: UInt32
                if inside {
                    want = PatternClient.pattern(frame: frame, x: x, y: y)
                } else if let previous {
                    want = UInt32(previous[i]) | UInt32(previous[i + 1]) << 8 | UInt32(previous[i + 2]) << 16 | UInt32(previous[i + 3]) << 24
                } else {
                    want = PatternClient.background
                }
                if pixel != want { wrong += 1 }
            }
        }
        #expect(wrong == 0, "frame \(frame): \(wrong) pixels break the damage contract")
    }

    @Test func framesWithoutWaitingReuseBothBuffers() throws {
        try Self.withCompositor(frameInterval: .milliseconds(5)) { compositor in
            let client = try PatternClient(socketPath: compositor.socketPath, width: 32, height: 32)
            defer { client.close() }
            var expected: [[UInt8]] = []
            for n in 0..<12 { expected.append(try client.drawFrame(n, damage: .rect(x: n, y: n, width: 8, height: 8))) }
            try client.roundtrip()
            #expect(compositor.waitForCommits(12, timeout: .seconds(10)))
            #expect(compositor.commits.map(\.bytes) == expected)
            #expect(client.framesDrawn == 12)
        }
    }

    @Test func aClientWithBothBuffersHeldWaitsForARelease() throws {
        try Self.withCompositor(frameInterval: .milliseconds(20), bufferRelease: .onFrameTick) { compositor in
            let client = try PatternClient(socketPath: compositor.socketPath, width: 40, height: 30)
            defer { client.close() }
            var expected: [[UInt8]] = []
            for n in 0..<8 { expected.append(try client.drawFrame(n, damage: .rect(x: 3 * n, y: 2 * n, width: 12, height: 9))) }
            try client.roundtrip()
            #expect(compositor.waitForCommits(8, timeout: .seconds(10)))
            #expect(compositor.commits.map(\.bytes) == expected)
            #expect(client.framesThatWaitedForRelease > 0, "a compositor that holds buffers until its tick should make the client wait")
            #expect(compositor.postedErrors.isEmpty)
        }
    }

    @Test func patternIsDeterministicAndDiffersPerFrame() {
        for (x, y) in [(0, 0), (17, 3), (255, 511), (1000, 7)] {
            let a = PatternClient.pattern(frame: 3, x: x, y: y)
            #expect(a == PatternClient.pattern(frame: 3, x: x, y: y))
            #expect(a >> 24 == 0xFF)
            #expect(a != PatternClient.pattern(frame: 4, x: x, y: y))
        }
        let colours = Set((0..<64).map { PatternClient.pattern(frame: 0, x: $0 * 3, y: $0 * 5) })
        #expect(colours.count > 32)
    }

    @Test func damageIsClippedToTheSurface() {
        #expect(Damage.full.clipped(width: 10, height: 20) == (0, 0, 10, 20))
        #expect(Damage.rect(x: -5, y: 2, width: 10, height: 100).clipped(width: 10, height: 20) == (0, 2, 5, 18))
        #expect(Damage.rect(x: 30, y: 2, width: 10, height: 1).clipped(width: 10, height: 20).width == 0)
    }

    @Test func unknownObjectIsAProtocolErrorOnTheDisplay() throws {
        try Self.withCompositor { compositor in
            let client = try PatternClient(socketPath: compositor.socketPath, width: 8, height: 8)
            defer { client.close() }
            client.session.sendUnchecked(objectID: 999, opcode: 0)
            do throws(HarnessError) {
                try client.roundtrip()
                Issue.record("roundtrip succeeded after a request to a nonexistent object")
            } catch {
                guard case .protocolError(let object, let iface, let code, let message) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(object == 1 && iface == "wl_display" && code == 0)
                #expect(message.contains("999"))
            }
            #expect(compositor.postedErrors.count == 1)
            #expect(throws: HarnessError.self) { try client.drawFrame(0, damage: .full) }
        }
    }

    @Test func unknownOpcodeIsAProtocolErrorOnTheObject() throws {
        try Self.withCompositor { compositor in
            let client = try PatternClient(socketPath: compositor.socketPath, width: 8, height: 8)
            defer { client.close() }
            client.session.sendUnchecked(objectID: client.surfaceID, opcode: 77)
            do throws(HarnessError) {
                try client.roundtrip()
                Issue.record("roundtrip succeeded after an unknown opcode")
            } catch {
                guard case .protocolError(let object, let iface, let code, let message) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(object == client.surfaceID && iface == "wl_surface" && code == 1)
                #expect(message.contains("invalid method 77"))
                #expect("\(error)".contains("wl_surface@\(client.surfaceID)"))
            }
        }
    }

    @Test func connectingToNothingFailsWithContext() {
        do {
            _ = try PatternClient(socketPath: "/nonexistent/porthole-test-socket", width: 8, height: 8)
            Issue.record("connected to a nonexistent socket")
        } catch {
            #expect("\(error)".contains("/nonexistent/porthole-test-socket"))
        }
    }
}

/// A real client (weston-simple-shm, a separate process) against the
/// recording compositor. Suites whose name ends in ProcessTests start
/// processes: the fast tier skips them by name (README, Testing).
@Suite(.tags(.processes)) struct HarnessProcessTests {
    @Test
    func westonSimpleShmIsRecorded() throws {
        try HarnessSelfTest.withCompositor { compositor in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/weston-simple-shm")
            var environment = ProcessInfo.processInfo.environment
            environment["WAYLAND_DISPLAY"] = compositor.socketPath
            environment["XDG_RUNTIME_DIR"] = String(compositor.socketPath[..<compositor.socketPath.lastIndex(of: "/")!])
            process.environment = environment
            let stderr = Pipe()
            process.standardError = stderr
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let recorded = compositor.waitForCommits(3, timeout: .seconds(15))
            // SIGKILL: the child inherits the test thread's signal mask, in
            // which the cooperative pool blocks SIGTERM and SIGINT.
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let output = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(recorded, "weston-simple-shm committed \(compositor.commitCount) frames; stderr: \(output)")
            #expect(compositor.postedErrors.isEmpty)
            let first = try #require(compositor.commits.first)
            #expect(first.width == 250 && first.height == 250 && first.format == 1 && first.stride >= 1000)
            #expect(compositor.commits.dropFirst().contains { $0.bytes != first.bytes }, "the animation should change")
        }
    }
}
