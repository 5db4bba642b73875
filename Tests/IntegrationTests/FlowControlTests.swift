import Foundation
import Glibc
import Harness
import PortholeSystem
import SystemTestSupport
import Testing
import Wayland

/// Per-channel credit: a client that stops reading its socket must not slow
/// the other clients of the same guest.
@Suite("Flow control between clients", .serialized, .tags(.processes))
struct FlowControlTests {
    /// Frames a pattern client completes (commit + frame callback) in `seconds`.
    func frameRate(_ client: PatternClient, seconds: Double, firstFrame: Int) throws -> Double {
        let start = monotonicSeconds()
        var n = firstFrame
        while monotonicSeconds() - start < seconds {
            _ = try client.drawFrame(n, damage: .rect(x: 0, y: 0, width: 64, height: 64))
            try client.waitForFrameCallback()
            n += 1
        }
        return Double(n - firstFrame) / (monotonicSeconds() - start)
    }

    @Test("a client that never reads does not stall another client's frames")
    func stalledClientDoesNotStallOthers() throws {
        let chain = try ProxiedWeston()
        defer { chain.stop() }
        let client = try PatternClient(socketPath: chain.guest.socketPath!, width: 256, height: 256)
        defer { client.close() }
        _ = try frameRate(client, seconds: 1, firstFrame: 0) // warm up
        let alone = try frameRate(client, seconds: 3, firstFrame: 1000)

        // The stalled client floods the compositor with sync requests and
        // never reads the replies.
        let stalled = try RawWaylandClient(path: chain.guest.socketPath!)
        try stalled.send(1, 1, [.newID(2)])
        let fd = stalled.socket.rawValue
        let progress = FloodProgress()
        let flood = Thread {
            var nextID: UInt32 = 3
            let deadline = monotonicSeconds() + 4
            var batch: [UInt8] = []
            while monotonicSeconds() < deadline {
                batch.removeAll(keepingCapacity: true)
                for _ in 0..<512 {
                    batch += WireCodec.encode(objectID: 1, opcode: 0, [.newID(nextID)])
                    nextID += 1
                }
                var offset = 0
                while offset < batch.count && monotonicSeconds() < deadline {
                    let n = batch.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
                    if n < 0 && errno != EAGAIN { return }
                    if n <= 0 { progress.record(blocked: true); usleep(2000); continue }
                    progress.record(sent: n)
                    offset += n
                }
            }
        }
        flood.start()
        usleep(500_000)
        let withStalled = try frameRate(client, seconds: 3, firstFrame: 2000)
        while flood.isExecuting { usleep(10_000) }

        let (sent, blocked) = progress.snapshot
        // The flood must really have been held back (credit exhausted, guest stopped reading it).
        #expect(blocked, "the flooding client never blocked after \(sent) bytes")
        print("stalled client pushed \(sent) bytes before blocking; frame rate alone: \(String(format: "%.1f", alone)) fps; beside a stalled client: \(String(format: "%.1f", withStalled)) fps")
        #expect(alone > 5, "the streaming client is too slow to measure: \(alone) fps")
        #expect(withStalled >= 0.7 * alone, "alone \(alone) fps, with a stalled client \(withStalled) fps")
        #expect(chain.guest.isRunning && chain.host.isRunning)
        // Memory stayed bounded: the guest holds at most one credit window for the stalled client.
        let rss = try residentKiB(pid: chain.guest.pid)
        #expect(rss < 200 * 1024, "guest RSS \(rss) KiB")
    }
}

/// VmRSS of a process in KiB.
func residentKiB(pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
        throw SupportError("no VmRSS for \(pid)")
    }
    return kib
}

/// What the flooding thread managed to send, and whether the socket ever pushed back.
final class FloodProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var sent = 0
    private var blocked = false
    func record(sent n: Int = 0, blocked b: Bool = false) {
        lock.withLock {
            sent += n
            if b { blocked = true }
        }
    }
    var snapshot: (Int, Bool) { lock.withLock { (sent, blocked) } }
}
