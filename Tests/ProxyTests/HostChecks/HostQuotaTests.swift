import Glibc
@testable import Link
import PortholeSystem
import Sharing
@testable import Proxy
import SystemTestSupport
import Testing
import Wayland

/// The quotas on what a guest can make the host hold (docs/ARCHITECTURE.md,
/// "Quotas"), each run into on purpose by a raw guest: the guest's own
/// quota ends its link (or fails the channel that asked), the host's total
/// fails only the channel that finds it spent, and everyone else is served.
@Suite("Host quotas: descriptors, memory, objects, guests") struct HostQuotaTests {
    /// The adversary's first finding: a link opening pipe resources (28
    /// bytes each on the wire, two descriptors each on the host) until the
    /// host had none left, so that other guests' clients and links failed.
    @Test func pipesBeyondTheGuestsDescriptorQuotaEndItsLinkAndAnHonestGuestStillDrawsAtOnce() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let bystander = try h.connectGuest()
        let b = try h.openClient(1, on: bystander)
        let g = try h.connectGuest()
        let attacker = try h.openChannel(1, on: g)
        for rid in UInt32(1)...3000 { g.send(.resourceOpen(channel: 1, resource: rid, kind: .pipe, size: 0)) }
        // An honest guest comes while the flood is on its way to the host;
        // in no turn is the flood handled for longer than its fair share.
        let flood = try #require(h.hostSession(of: g)).link
        var handled = flood.receivedFrames
        var most: UInt64 = 0
        h.afterEachTurn = {
            most = max(most, flood.receivedFrames - handled)
            handled = flood.receivedFrames
        }
        let honest = try h.honestFirstFrame()
        h.afterEachTurn = nil
        #expect(most <= UInt64(LinkEndpoint.framesPerTurn), "the flooding link had \(most) frames handled in one turn")
        #expect(honest.seconds < 0.1 * testSlowdown, "the honest guest's first frame took \(honest.seconds) s of the loop thread's CPU")
        h.expectLinkClosed(g, "file descriptors held for this guest: 2047 of 2048 in use, 2 more asked",
                           compositorConnectionsFrom: h.compositor.clients.count)
        #expect(h.pump { attacker.compositor.sawEOF })
        #expect(!honest.guest.isClosed && !bystander.isClosed && !b.compositor.sawEOF)
    }

    @Test func poolsBeyondTheGuestsDescriptorQuotaEndItsLink() throws {
        var limits = LinkLimits()
        limits.maxFds = 16
        try InProcessHost.expectLinkError("file descriptors held for this guest: 16 of 16", limits: limits) { h, g in
            // 1 compositor connection + 15 pool memfds fill it; the 16th pool is one too many.
            _ = try h.openChannel(1, on: g)
            for rid in UInt32(1)...16 { g.send(.resourceOpen(channel: 1, resource: rid, kind: .shmPool, size: 4096)) }
        }
    }

    @Test func aChannelBeyondTheGuestsDescriptorQuotaIsRefused() throws {
        var limits = LinkLimits()
        limits.maxFds = 3
        let h = try InProcessHost(limits: limits)
        defer { h.tearDown() }
        let g = try h.connectGuest()
        for c in UInt32(1)...3 { _ = try h.openChannel(c, on: g) }
        g.openChannel(4)
        #expect(h.pump { g.channelClose(4) != nil })
        let close = g.channelClose(4)
        #expect(close?.code == ChannelCloseCode.unavailable.rawValue && close?.reason.contains("file descriptors held for this guest") == true,
                "\(close.map { "\($0)" } ?? "none")")
        #expect(h.compositor.clients.count == 3 && !g.isClosed)
        // A channel's close gives its descriptor back.
        g.send(.channelClose(channel: 4, code: 0, reason: "ack"))
        g.send(.channelClose(channel: 1, code: 0, reason: "bye"))
        #expect(h.pump { h.compositor.clients[0].sawEOF })
        _ = try h.openChannel(5, on: g)
    }

    /// The host's total: a guest within its own quota that finds the total
    /// spent loses only the channel that asked; a new guest is still
    /// accepted and connected to the compositor from the reserve.
    @Test func theHostsDescriptorTotalFailsOnlyTheChannelThatFindsItSpent() throws {
        var hostLimits = HostLimits()
        hostLimits.totalFds = 40
        hostLimits.fdReserve = 16
        let h = try InProcessHost(hostLimits: hostLimits)
        defer { h.tearDown() }
        let g = try h.connectGuest()                          // 1 (the link)
        _ = try h.openChannel(1, on: g)                       // 2
        for rid in UInt32(1)...10 { g.send(.resourceOpen(channel: 1, resource: rid, kind: .pipe, size: 0)) } // 22
        _ = try h.openChannel(2, on: g)                       // 23
        g.send(.resourceOpen(channel: 2, resource: 1, kind: .pipe, size: 0)) // 25 > 40 - 16
        #expect(h.pump { g.channelClose(2) != nil })
        let close = g.channelClose(2)
        #expect(close?.code == ChannelCloseCode.unavailable.rawValue && close?.reason.contains("for all guests") == true,
                "\(close.map { "\($0)" } ?? "none")")
        #expect(!g.isClosed && h.hostChannel(1, of: g) != nil)
        // A new guest: its link and its compositor connection come from the reserve.
        let next = try h.connectGuest()
        let ch = try h.openClient(1, on: next)
        #expect(ch.compositor.messages.count == 1)
        next.send(.resourceOpen(channel: 1, resource: 1, kind: .shmPool, size: 4096))
        #expect(h.pump { next.channelClose(1) != nil })
        #expect(next.channelClose(1)?.reason.contains("for all guests") == true && !next.isClosed)
    }

    /// The adversary's other exhaustion: two links filling shm pools put
    /// 1 GiB in the host; the spec's 8 GiB a link and no total let any
    /// number of links hold any amount.
    @Test func resourceMemoryOfAllGuestsTogetherIsCapped() throws {
        var hostLimits = HostLimits()
        hostLimits.totalMemory = 1 << 30
        let h = try InProcessHost(hostLimits: hostLimits)
        defer { h.tearDown() }
        let a = try h.connectGuest()
        _ = try h.openChannel(1, on: a)
        a.send(.resourceOpen(channel: 1, resource: 1, kind: .shmPool, size: 600 << 20))
        let b = try h.connectGuest()
        _ = try h.openChannel(1, on: b)
        b.send(.resourceOpen(channel: 1, resource: 1, kind: .shmPool, size: 600 << 20))
        #expect(h.pump { b.channelClose(1) != nil })
        #expect(b.channelClose(1)?.reason.contains("resource memory the host holds for all guests") == true,
                "\(b.channelClose(1).map { "\($0)" } ?? "none")")
        #expect(!a.isClosed && !b.isClosed && a.channelClose(1) == nil)
        b.send(.channelClose(channel: 1, code: 0, reason: "ack"))
        _ = try h.openChannel(2, on: b)
        b.send(.resourceOpen(channel: 2, resource: 1, kind: .shmPool, size: 100 << 20))
        h.settle()
        #expect(b.channelClose(2) == nil && h.hostSession(of: b)?.session.channels.heldResourceBytes == 100 << 20)
        let honest = try h.honestFirstFrame()
        #expect(honest.seconds < 0.1 * testSlowdown, "the honest guest's first frame took \(honest.seconds) s of the loop thread's CPU")
    }

    @Test func guestsBeyondTheHostsLimitAreTurnedAway() throws {
        var hostLimits = HostLimits()
        hostLimits.maxGuests = 2
        let h = try InProcessHost(hostLimits: hostLimits)
        defer { h.tearDown() }
        let first = try h.connectGuest()
        _ = try h.connectGuest()
        let (hostEnd, guestEnd) = try Socket.pair()
        // Its hello is on its way when the host looks at it, as on a real socket.
        let third = try RawGuestLink(socket: guestEnd, loop: h.loop, offerRegion: false, name: "third")
        h.host.serve(link: hostEnd, from: "a third guest")
        #expect(h.pump { third.isClosed })
        #expect(third.closeReason?.contains("serves at most 2 guests") == true, "\(third.closeReason ?? "")")
        #expect(h.host.sessions.count == 2)
        first.endpoint.close(reason: "leaving")
        #expect(h.pump { h.host.sessions.count == 1 })
        _ = try h.openClient(1, on: try h.connectGuest())
    }

    // MARK: Wayland objects

    @Test func objectsBeyondTheChannelsQuotaFailTheChannel() throws {
        var hostLimits = HostLimits()
        hostLimits.objectsPerChannel = 50
        let h = try InProcessHost(hostLimits: hostLimits)
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let ch = try h.openClient(1, on: g)
        // Objects so far: the display and the registry; a compositor, then regions up to 50.
        g.wayland(1, [bind(1, "wl_compositor", 4, id: 3)] + (4...50).map { wl(3, 1, [.newID($0)]) })
        #expect(h.pump { ch.compositor.messages.count == 49 })
        let forwarded = ch.compositor.messages.map { $0.name ?? "?" }
        g.request(1, 3, 1, [.newID(51)])
        try h.expectRefused(g, ch, object: 3, code: DisplayErrorCode.noMemory.rawValue, "50 Wayland objects on this channel",
                            forwarded: forwarded)
    }

    @Test func objectsOfAllOfAGuestsChannelsTogether() throws {
        var hostLimits = HostLimits()
        hostLimits.objectsPerChannel = 50
        hostLimits.objectsPerGuest = 70
        let h = try InProcessHost(hostLimits: hostLimits)
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let one = try h.openClient(1, on: g)
        g.wayland(1, [bind(1, "wl_compositor", 4, id: 3)] + (4...40).map { wl(3, 1, [.newID($0)]) })
        #expect(h.pump { one.compositor.messages.count == 39 })
        let two = try h.openClient(2, on: g)                     // 40 + 2 = 42
        g.wayland(2, [bind(1, "wl_compositor", 4, id: 3)] + (4...30).map { wl(3, 1, [.newID($0)]) }) // 70
        #expect(h.pump { two.compositor.messages.count == 29 })
        let forwarded = two.compositor.messages.count
        g.request(2, 3, 1, [.newID(31)])
        #expect(h.pump { g.channelClose(2) != nil })
        let error = g.displayError(2)
        #expect(error?.object == 3 && error?.code == DisplayErrorCode.noMemory.rawValue
                && error?.message.contains("70 Wayland objects of this guest") == true, "\(error.map { "\($0)" } ?? "none")")
        #expect(two.compositor.messages.count == forwarded && h.pump { two.compositor.sawEOF })
        // The other channel is untouched, and the closed one gave its objects back.
        #expect(g.channelClose(1) == nil && !g.isClosed && !one.compositor.sawEOF)
        g.wayland(1, (41...50).map { wl(3, 1, [.newID($0)]) })
        #expect(h.pump { one.compositor.messages.count == 49 } && g.channelClose(1) == nil)
    }
}

extension HostQuotaTests {
    @Test func registeredRangesBeyondTheGuestsQuotaEndItsLink() throws {
        var limits = LinkLimits()
        limits.registry.maxRanges = 100
        try InProcessHost.expectLinkError("would make more than 100 ranges registered", limits: limits, regionSize: 4 << 20, offerRegion: true) { _, g in
            for id in UInt32(1)...2 {
                let ranges = (0..<64).map { MemoryRange(offset: 4096 + UInt64($0) * 128, length: 64) }
                g.send(.bufferRegister(BufferDescriptor(id: id, application: "raw", ranges: ranges)))
            }
        }
    }
}
