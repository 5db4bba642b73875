import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import SystemTestSupport
import Testing
import Wayland

/// The bulk lane (docs/link-protocol.md §12) from the host's side, with raw
/// guests: a lane carries only the frames of channels the guest moved there,
/// and only after the host read the move; it comes with its link's token or
/// not at all; whatever goes wrong on it ends that guest's link and no other.
@Suite("Host checks: the bulk lane") struct HostLaneChecksTests {
    static let credit = LinkFrame.Credit(bufAlloc: 1 << 20, fwdCnt: 0)

    /// A guest that offered the lane, with a client on channel 1, and the token the host offered it.
    private func guestWithLane(_ h: InProcessHost) throws -> (RawGuestLink, InProcessHost.Channel, [UInt8]) {
        let g = try h.connectGuest(offerLane: true)
        let ch = try h.openClient(1, on: g)
        try #require(h.pump { g.laneToken != nil }, "the host offered no lane")
        return (g, ch, try #require(g.laneToken))
    }

    /// A wl_display.sync (new callback `id`) on `channel`, as a data frame.
    private func sync(_ channel: UInt32, id: UInt32) -> [UInt8] {
        FrameCodec.encode(.data(channel: channel, credit: Self.credit, resources: [],
                                bytes: WireCodec.encode(objectID: 1, opcode: 0, [.newID(id)])))
    }

    @Test func aMovedChannelsFramesOnTheLaneReachTheCompositorOnlyAfterTheMove() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (g, ch, token) = try guestWithLane(h)
        let lane = try h.connectRaw(from: "raw lane")
        writeAll(lane.rawValue, FrameCodec.encode(.laneAttach(token: token)) + sync(1, id: 3))
        h.settle()
        // Read, but its channel has not moved: it waits.
        #expect(ch.compositor.messages(named: "wl_display.sync").isEmpty)
        #expect(!g.isClosed && !h.closedByHost(lane))
        g.send(.laneMove(channel: 1))
        #expect(h.pump { ch.compositor.messages(named: "wl_display.sync").count == 1 }, "the lane's frame never arrived")
        // And the answer goes back on the main connection.
        #expect(h.pump { g.events(1).contains { $0.objectID == 3 } })
        writeAll(lane.rawValue, sync(1, id: 4))
        #expect(h.pump { ch.compositor.messages(named: "wl_display.sync").count == 2 })
        // One guest, one link: the lane is neither.
        #expect(h.host.guestsServed == 1)
        #expect(h.stats()["links"] == 1, "\(h.stats())")
    }

    @Test func aMovedChannelsFrameOnTheMainConnectionEndsTheLink() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (g, _, token) = try guestWithLane(h)
        let lane = try h.connectRaw(from: "raw lane")
        writeAll(lane.rawValue, FrameCodec.encode(.laneAttach(token: token)))
        g.send(.laneMove(channel: 1))
        g.request(1, 1, 0, [.newID(3)])
        h.expectLinkClosed(g, "a frame of channel 1 on the main connection after it moved to the bulk lane")
        #expect(h.pump { h.closedByHost(lane) }, "the lane outlived its link")
    }

    @Test func aChannelMovedTwiceEndsTheLink() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (g, _, _) = try guestWithLane(h)
        g.send(.laneMove(channel: 1))
        g.send(.laneMove(channel: 1))
        h.expectLinkClosed(g, "channel 1 moved to the bulk lane twice")
    }

    @Test func aLaneWithATokenNoLinkOfferedIsClosedAndTheLinkCarriesOn() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (g, ch, token) = try guestWithLane(h)
        let wrong = try h.connectRaw(from: "a guessing lane")
        writeAll(wrong.rawValue, FrameCodec.encode(.laneAttach(token: token.map { $0 ^ 1 })))
        #expect(h.pump { h.closedByHost(wrong) }, "a lane with a wrong token was kept")
        #expect(!g.isClosed, "the link closed: \(g.closeReason ?? "")")
        // The right token still attaches.
        let lane = try h.connectRaw(from: "raw lane")
        g.send(.laneMove(channel: 1))
        writeAll(lane.rawValue, FrameCodec.encode(.laneAttach(token: token)) + sync(1, id: 3))
        #expect(h.pump { ch.compositor.messages(named: "wl_display.sync").count == 1 })
        #expect(h.pump { h.host.sessions.count == 2 }, "the wrong lane's session is still there")
    }

    @Test func aTokenAttachesOneLane() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (g, _, token) = try guestWithLane(h)
        let first = try h.connectRaw(from: "raw lane")
        writeAll(first.rawValue, FrameCodec.encode(.laneAttach(token: token)))
        h.settle()
        let second = try h.connectRaw(from: "a second lane")
        writeAll(second.rawValue, FrameCodec.encode(.laneAttach(token: token)))
        #expect(h.pump { h.closedByHost(second) }, "a second lane with the same token was kept")
        h.settle()
        #expect(!h.closedByHost(first) && !g.isClosed)
    }

    @Test func aLinkWideFrameOnTheLaneEndsTheLink() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (g, _, token) = try guestWithLane(h)
        let lane = try h.connectRaw(from: "raw lane")
        writeAll(lane.rawValue, FrameCodec.encode(.laneAttach(token: token)) + FrameCodec.encode(.registryReset))
        h.expectLinkClosed(g, "its bulk lane closed: registryReset on the bulk lane")
    }

    @Test func aChannelOpenOnTheLaneEndsTheLink() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (g, _, token) = try guestWithLane(h)
        // A channel is opened on the main connection: on the lane its open
        // waits as for an id not opened yet, until a move names it, and then ends the link.
        let lane = try h.connectRaw(from: "raw lane")
        writeAll(lane.rawValue, FrameCodec.encode(.laneAttach(token: token)) + FrameCodec.encode(.channelOpen(channel: 5, bufAlloc: 4096)))
        h.settle()
        #expect(!g.isClosed && !h.closedByHost(lane))
        g.openChannel(5)
        #expect(h.pump { g.accepted(5) })
        g.send(.laneMove(channel: 5))
        h.expectLinkClosed(g, "channelOpen on the bulk lane")
    }

    @Test func closingTheLaneEndsTheLink() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (g, ch, token) = try guestWithLane(h)
        let lane = try h.connectRaw(from: "raw lane")
        writeAll(lane.rawValue, FrameCodec.encode(.laneAttach(token: token)))
        h.settle()
        lane.close()
        #expect(h.pump { g.isClosed }, "the link outlived its lane")
        #expect(g.closeReason?.contains("its bulk lane closed") == true, "\(g.closeReason ?? "")")
        #expect(h.pump { ch.compositor.sawEOF })
        #expect(h.pump { h.host.sessions.isEmpty }, "\(h.host.sessions.count) sessions left")
        #expect(h.host.heldForGuests.fds == 0 && h.host.heldForGuests.bytes == 0, "\(h.host.heldForGuests)")
    }

    @Test func aLaneFrameOfAChannelThatNeverMovesHoldsOnlyTheLane() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let (g, ch, token) = try guestWithLane(h)
        let lane = try h.connectRaw(from: "raw lane")
        // Channel 1 never moves, and 9 is never opened: the lane waits for
        // ever, and holds no more than what its socket buffers.
        writeAll(lane.rawValue, FrameCodec.encode(.laneAttach(token: token)) + sync(9, id: 3) + sync(1, id: 4))
        h.settle()
        // The main connection goes on.
        g.request(1, 1, 0, [.newID(3)])
        #expect(h.pump { g.events(1).contains { $0.objectID == 3 } }, "the main connection waited for the lane")
        #expect(ch.compositor.messages(named: "wl_display.sync").count == 1)
        g.endpoint.close(reason: "done")
        #expect(h.pump { h.host.sessions.isEmpty }, "\(h.host.sessions.count) sessions left")
        #expect(h.pump { h.closedByHost(lane) })
        #expect(h.host.heldForGuests.fds == 0 && h.host.heldForGuests.bytes == 0, "\(h.host.heldForGuests)")
    }

    /// As `HostFloodTests.aGuestThatNeverReadsCannotGrowTheHostsQueue`, with
    /// the requests on the lane: their answers go on the main connection,
    /// whose queue the lane's reading is held to too.
    @Test func aGuestThatNeverReadsCannotGrowTheHostsQueueThroughItsLane() throws {
        var limits = LinkLimits()
        limits.maxQueuedBytes = 1 << 20
        let h = try InProcessHost(limits: limits)
        defer { h.tearDown() }
        let (evil, session) = try h.connectRawSession(from: "a guest that never reads")
        writeAll(evil.rawValue, FrameCodec.encode(.hello(version: 1, role: .guest, features: LinkFeatures.bulkLane))
                 + FrameCodec.encode(.channelOpen(channel: 1, bufAlloc: 65536)) + FrameCodec.encode(.laneMove(channel: 1)))
        try #require(h.pump { session.session.channels[1]?.onLane == true })
        // The token, from what the host sent so far (hello, laneOffer, channelAccept).
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(evil.rawValue, $0.baseAddress!, $0.count) }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        var token: [UInt8]?
        var at = 0
        while at + 12 <= received.count, let length = try received[at...].withUnsafeBytes({ try FrameCodec.frameLength($0, limits: limits) }),
              at + length <= received.count {
            if case .laneOffer(let t) = try received[at..<(at + length)].withUnsafeBytes({ try FrameCodec.decode($0, limits: limits) }) { token = t }
            at += length
        }
        let lane = try h.connectRaw(from: "the lane of a guest that never reads")
        writeAll(lane.rawValue, FrameCodec.encode(.laneAttach(token: try #require(token, "no laneOffer in \(received.count) bytes"))))
        try #require(h.pump { h.host.sessions.values.contains { $0.isLane } })
        let (sent, peak, stalled) = h.floodCreditRequests(channel: 1, on: lane, watching: session.link)
        #expect(stalled >= 50, "the host read all \(sent) bytes from the lane of a guest that never reads")
        #expect(peak <= limits.maxQueuedBytes + 64, "the host queued \(peak) bytes for a guest that never reads")
        #expect(!session.link.isClosed)
        // The guest starts reading: the host answers the rest and reads on.
        let got = h.readAnswers(on: evil, atLeast: (sent / 12) * 20)
        #expect(got >= (sent / 12) * 20, "got \(got) bytes of answers to \(sent / 12) requests")
    }

    @Test func aGuestThatDidNotOfferTheLaneGetsNoTokenAndMayNotMove() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let g = try h.connectGuest()
        _ = try h.openClient(1, on: g)
        h.settle()
        #expect(g.laneToken == nil)
        g.send(.laneMove(channel: 1))
        h.expectLinkClosed(g, "laneMove on a link without the bulk lane")
    }

    @Test func aHostWithoutLanesOffersNone() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        h.host.bulkLanes = false
        let g = try h.connectGuest(offerLane: true)
        _ = try h.openClient(1, on: g)
        h.settle()
        #expect(g.laneToken == nil)
        #expect(g.endpoint.features & LinkFeatures.bulkLane == 0)
    }
}
