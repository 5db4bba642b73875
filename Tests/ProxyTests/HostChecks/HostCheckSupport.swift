import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import SystemTestSupport
import Testing
import Wayland

/// One Wayland message's bytes.
func wl(_ object: UInt32, _ opcode: UInt16, _ args: [WireArg]) -> [UInt8] {
    WireCodec.encode(objectID: object, opcode: opcode, args)
}

/// What a guest needs to make a virtual keyboard (`--allow virtual-keyboard`).
let allowVirtualKeyboard = GuestPolicy(allowed: [.virtualKeyboard])

/// wl_registry.bind of global `name` as `interface` v`version` with new id `id` (registry 2).
func bind(_ name: UInt32, _ interface: String, _ version: UInt32, id: UInt32) -> [UInt8] {
    wl(2, 0, [.uint(name), .untypedNewID(interface: Array(interface.utf8), version: version, id: id)])
}

extension InProcessHost {
    /// Writes creditRequests for `channel` on `fd`, running the loop, until
    /// 8 MiB went (13 MiB of answers, if nothing held them back) or the host
    /// stopped reading for 50 tries; `link`'s queue at its highest meanwhile.
    func floodCreditRequests(channel: UInt32, on fd: OwnedFD, watching link: LinkEndpoint) -> (sent: Int, peak: Int, stalled: Int) {
        let chunk = Array([[UInt8]](repeating: FrameCodec.encode(.creditRequest(channel: channel)), count: 4096).joined())
        var sent = 0, offset = 0, peak = 0, stalled = 0
        while sent < 8 << 20 && stalled < 50 {
            let n = chunk.withUnsafeBytes { write(fd.rawValue, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                sent += n
                offset = (offset + n) % chunk.count
                stalled = 0
            } else {
                stalled += 1
            }
            loop.runOnce(timeout: n > 0 ? 0 : 0.002)
            peak = max(peak, link.queuedBytes)
        }
        return (sent, peak, stalled)
    }

    /// Reads what the host sends on `fd`, running the loop, until `bytes`
    /// arrived or 10 s passed; the bytes read.
    func readAnswers(on fd: OwnedFD, atLeast bytes: Int) -> Int {
        var got = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = monotonicNow() + 10_000_000_000
        while got < bytes && monotonicNow() < deadline {
            let n = buffer.withUnsafeMutableBytes { read(fd.rawValue, $0.baseAddress!, $0.count) }
            if n > 0 { got += n }
            loop.runOnce(timeout: n > 0 ? 0 : 0.002)
        }
        return got
    }

    /// A host, a bystander guest with a working client, and a second guest
    /// that `attack` makes break the link protocol. Checks that the host
    /// ends exactly that link, for a reason containing `fragment` (code 1),
    /// counts it, closes the compositor connections of its channels, frees
    /// what it held, and goes on serving the bystander and new guests.
    static func expectLinkError(_ fragment: String, limits: LinkLimits = LinkLimits(), regionSize: Int? = nil,
                                offerRegion: Bool = false, agreeOnRegion: Bool = true, policy: GuestPolicy = GuestPolicy(),
                                sourceLocation: SourceLocation = #_sourceLocation,
                                _ attack: (InProcessHost, RawGuestLink) throws -> Void) throws {
        let h = try InProcessHost(limits: limits, regionSize: regionSize, policy: policy)
        defer { h.tearDown() }
        let bystander = try h.connectGuest(offerRegion: offerRegion, sourceLocation: sourceLocation)
        let b = try h.openClient(1, on: bystander, sourceLocation: sourceLocation)
        let g = try h.connectGuest(offerRegion: offerRegion, agreeOnRegion: agreeOnRegion, sourceLocation: sourceLocation)
        let before = h.compositor.clients.count
        try attack(h, g)
        h.expectLinkClosed(g, fragment, compositorConnectionsFrom: before, sourceLocation: sourceLocation)
        // The bystander is untouched and still served.
        bystander.request(1, 1, 0, [.newID(3)])
        #expect(h.pump { bystander.events(1).contains { $0.objectID == 3 } }, "the bystander is no longer served",
                sourceLocation: sourceLocation)
        #expect(!bystander.isClosed && !b.compositor.sawEOF, sourceLocation: sourceLocation)
        let stats = h.stats()
        #expect(stats["links"] == 1 && stats["clients"] == 1 && stats["registered_buffers"] == 0, "\(stats)", sourceLocation: sourceLocation)
        if regionSize != nil {
            #expect(stats["region_links"] == (offerRegion ? 1 : 0), "\(stats)", sourceLocation: sourceLocation)
        }
        // A new guest is served.
        let next = try h.connectGuest(sourceLocation: sourceLocation)
        _ = try h.openClient(1, on: next, sourceLocation: sourceLocation)
    }

    /// Checks that the host ended `g`'s link for a reason containing
    /// `fragment`: the guest got closeLink code 1, the session is gone, the
    /// compositor connections opened since `compositorConnectionsFrom`
    /// closed, and the error is counted.
    func expectLinkClosed(_ g: RawGuestLink, _ fragment: String, compositorConnectionsFrom first: Int = 0,
                          sourceLocation: SourceLocation = #_sourceLocation) {
        let closed = pump { g.isClosed }
        #expect(closed, "the host kept the link (expected '\(fragment)')", sourceLocation: sourceLocation)
        let reason = g.closeReason ?? ""
        #expect(reason.hasPrefix("peer closed the link (code 1): ") && reason.contains(fragment),
                "link closed with: \(reason)", sourceLocation: sourceLocation)
        #expect(pump { self.hostSession(of: g) == nil }, "the host still has the session", sourceLocation: sourceLocation)
        let own = compositor.clients[first...]
        #expect(pump { own.allSatisfy(\.sawEOF) }, "a compositor connection of the link stayed open", sourceLocation: sourceLocation)
        #expect(stats()["link_errors"] == 1, "\(stats())", sourceLocation: sourceLocation)
    }

    /// Checks that the host refused a message on channel `ch` of `g`: the
    /// guest got a wl_display.error about `object` with `code` and a message
    /// containing `fragment`, then channelClose code 1 (refused message);
    /// the compositor got exactly `forwarded` (message names) and its
    /// connection closed; the channel's resources were freed; the link stays
    /// up and opens another channel.
    func expectRefused(_ g: RawGuestLink, _ ch: Channel, object: UInt32, code: UInt32, _ fragment: String,
                       forwarded: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let session = try #require(hostSession(of: g), sourceLocation: sourceLocation)
        let errorsBefore = stats()["client_errors"] ?? 0
        let ended = pump { g.channelClose(ch.id) != nil || g.isClosed }
        #expect(ended, "the host did not refuse it (expected '\(fragment)')", sourceLocation: sourceLocation)
        #expect(!g.isClosed, "the link closed: \(g.closeReason ?? "")", sourceLocation: sourceLocation)
        if let close = g.channelClose(ch.id) {
            #expect(close.code == ChannelCloseCode.refusedMessage.rawValue && close.reason.contains(fragment),
                    "channelClose \(close)", sourceLocation: sourceLocation)
        }
        let error = g.displayError(ch.id)
        #expect(error?.object == object && error?.code == code && error?.message.contains(fragment) == true,
                "wl_display.error: \(error.map { "\($0)" } ?? "none")", sourceLocation: sourceLocation)
        #expect(pump { ch.compositor.sawEOF }, "the compositor connection stayed open", sourceLocation: sourceLocation)
        #expect(ch.compositor.messages.map { $0.name ?? "?" } == forwarded,
                "the compositor got \(ch.compositor.messages)", sourceLocation: sourceLocation)
        #expect(ch.compositor.parseErrors.isEmpty, "\(ch.compositor.parseErrors)", sourceLocation: sourceLocation)
        #expect(session.session.channels[ch.id] == nil, sourceLocation: sourceLocation)
        #expect(session.session.channels.heldResourceBytes == 0, "resource memory still held", sourceLocation: sourceLocation)
        #expect(pump { self.stats()["clients"] == 0 }, "\(stats())", sourceLocation: sourceLocation)
        #expect(stats()["client_errors"] == errorsBefore + 1 && stats()["link_errors"] == 0, "\(stats())", sourceLocation: sourceLocation)
        // The link carries on: the close is acknowledged, a new channel works.
        g.send(.channelClose(channel: ch.id, code: 0, reason: "ack"))
        let next = try openClient(ch.id + 100, on: g, sourceLocation: sourceLocation)
        #expect(next.compositor.messages.count == 1, sourceLocation: sourceLocation)
        #expect(!g.isClosed, sourceLocation: sourceLocation)
    }

    /// Binds wl_data_device_manager (3) on channel `ch` and makes a data
    /// source (4) offering text/plain; the compositor then asks it for its
    /// data with wl_data_source.send. Returns the pipe resource the host
    /// opened for it and the pipe's read end on the compositor's side.
    func hostPipe(on g: RawGuestLink, _ ch: Channel, sourceLocation: SourceLocation = #_sourceLocation) throws -> (rid: UInt32, read: OwnedFD) {
        g.wayland(ch.id, [bind(4, "wl_data_device_manager", 3, id: 3), wl(3, 0, [.newID(4)]), wl(4, 0, [.text("text/plain")])])
        try #require(pump { !ch.compositor.messages(named: "wl_data_source.offer").isEmpty }, sourceLocation: sourceLocation)
        let ends = try Pipe.make()
        ch.compositor.send(4, 1, [.text("text/plain"), .fd], fds: [ends.write])
        var rid: UInt32?
        try #require(pump {
            for f in g.frames { if case .resourceOpen(ch.id, let r, .pipe, 0) = f { rid = r } }
            return rid != nil && g.events(ch.id).contains { $0.objectID == 4 && $0.opcode == 1 }
        }, "no pipe resource from the host", sourceLocation: sourceLocation)
        ends.write.close()
        return (rid!, ends.read)
    }
}
