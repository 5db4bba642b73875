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
        let (evil, session) = try h.connectRawSession(from: "a guest that never reads")
        writeAll(evil.rawValue, Self.hello() + FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536)))
        try #require(h.pump { session.session.channels[1] != nil })
        let (sent, peak, stalled) = h.floodCreditRequests(channel: 1, on: evil, watching: session.link)
        #expect(stalled >= 50, "the host read all \(sent) bytes from a guest that never reads")
        // One frame's answer may go over before reading stops.
        #expect(peak <= limits.maxQueuedBytes + 64, "the host queued \(peak) bytes for a guest that never reads")
        #expect(!session.link.isClosed)
        // An honest guest meanwhile.
        let honest = try h.honestFirstFrame()
        #expect(honest.seconds < 0.1 * testSlowdown, "the honest guest's first frame took \(honest.seconds) s of the loop thread's CPU")
        // The guest starts reading: the host answers the rest and reads on.
        let got = h.readAnswers(on: evil, atLeast: (sent / 12) * 20)
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
