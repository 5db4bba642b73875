import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import SystemTestSupport
import Testing
import Wayland

/// Floods of cheap frames that make the host do or queue something for
/// each: credit requests from a guest that never reads, channels opened and
/// closed as fast as the link carries them, closes never acknowledged. Each
/// is held to its bound and costs only the guest that sends it.
@Suite("Host quotas: floods") struct HostFloodTests {
    static func hello() -> [UInt8] { FrameCodec.encode(.hello(version: 1, role: .guest, features: 0)) }

    /// The adversary's third finding: a link that never reads but sends
    /// creditRequests grew the host's memory with every one (128 MiB sent,
    /// 254 MB resident), each answered by a creditUpdate queued for a
    /// reader that never came.
    @Test func aGuestThatNeverReadsCannotGrowTheHostsQueue() throws {
        var limits = LinkLimits()
        limits.maxQueuedBytes = 1 << 20
        let h = try InProcessHost(limits: limits)
        defer { h.tearDown() }
        let (hostEnd, evil) = try Socket.pair()
        h.host.serve(link: hostEnd, from: "a guest that never reads")
        let session = try #require(h.host.sessions.values.first)
        writeAll(evil.rawValue, Self.hello() + FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536)))
        try #require(h.pump { session.session.channels[1] != nil })
        let chunk = Array([[UInt8]](repeating: FrameCodec.encode(.creditRequest(channel: 1)), count: 4096).joined())
        var sent = 0
        var offset = 0
        var peak = 0
        var stalled = 0
        // 8 MiB of requests: 13 MiB of answers if nothing held them back.
        while sent < 8 << 20 && stalled < 50 {
            let n = chunk.withUnsafeBytes { write(evil.rawValue, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                sent += n
                offset = (offset + n) % chunk.count
                stalled = 0
            } else {
                stalled += 1
            }
            h.loop.runOnce(timeout: n > 0 ? 0 : 0.002)
            peak = max(peak, session.link.queuedBytes)
        }
        #expect(stalled >= 50, "the host read all \(sent) bytes from a guest that never reads")
        // One frame's answer may go over before reading stops.
        #expect(peak <= limits.maxQueuedBytes + 64, "the host queued \(peak) bytes for a guest that never reads")
        #expect(!session.link.isClosed)
        // An honest guest meanwhile.
        let honest = try h.honestFirstFrame()
        #expect(honest.seconds < 0.1 * testSlowdown, "the honest guest's first frame took \(honest.seconds) s of the loop thread's CPU")
        // The guest starts reading: the host answers the rest and reads on.
        var got = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = monotonicNow() + 10_000_000_000
        while got < (sent / 12) * 20 && monotonicNow() < deadline {
            let n = buffer.withUnsafeMutableBytes { read(evil.rawValue, $0.baseAddress!, $0.count) }
            if n > 0 { got += n }
            h.loop.runOnce(timeout: n > 0 ? 0 : 0.002)
        }
        #expect(got >= (sent / 12) * 20, "got \(got) bytes of answers to \(sent / 12) requests")
    }

    @Test func channelsOpenedFasterThanTheRateAreRefused() throws {
        var limits = LinkLimits()
        limits.channelOpenBurst = 8
        limits.channelOpensPerSecond = 1
        let h = try InProcessHost(limits: limits)
        defer { h.tearDown() }
        let g = try h.connectGuest()
        for c in UInt32(1)...8 {
            _ = try h.openChannel(c, on: g)
            g.send(.channelClose(channel: c, code: 0, reason: "bye"))
        }
        g.openChannel(9)
        #expect(h.pump { g.channelClose(9) != nil })
        let close = g.channelClose(9)
        #expect(close?.code == ChannelCloseCode.unavailable.rawValue && close?.reason.contains("faster than 1 a second") == true,
                "\(close.map { "\($0)" } ?? "none")")
        #expect(h.compositor.clients.count == 8 && !g.isClosed)
        let honest = try h.honestFirstFrame()
        #expect(honest.seconds < 0.1 * testSlowdown, "the honest guest's first frame took \(honest.seconds) s of the loop thread's CPU")
    }

    @Test func closesTheGuestNeverAcknowledgesEndItsLink() throws {
        var limits = LinkLimits()
        limits.maxUnacknowledgedCloses = 4
        try InProcessHost.expectLinkError("4 channel closes left unacknowledged", limits: limits) { h, g in
            for c in UInt32(1)...4 {
                _ = try h.openChannel(c, on: g)
                // A message to an unknown object: the host closes the channel (code 1).
                g.request(c, 77, 0, [])
                #expect(h.pump { g.channelClose(c) != nil })
            }
            g.openChannel(5)
        }
    }
}
