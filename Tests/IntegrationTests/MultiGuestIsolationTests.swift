import Foundation
import Glibc
import Link
import PortholeSystem
import SystemTestSupport
import Testing
import Wayland

/// One host proxy, several guests: ids are per link, so a guest can never
/// reach another guest's channels, objects or resources.
@Suite("Guests on one host are isolated", .serialized, .tags(.processes))
struct MultiGuestIsolationTests {
    @Test("a guest naming another guest's channel or resource hits only its own (empty) namespace")
    func channelsAndResourcesArePerLink() throws {
        let setup = try WestonWithHost()
        defer { setup.stop() }
        guard case .unix(let path) = setup.address else { return }
        let credit = LinkFrame.Credit(bufAlloc: 1 << 20, fwdCnt: 0)

        // Guest A: channel 1 with a pool resource 5 and a registry (object 2).
        let a = try RawLinkGuest(path: path, offerRegion: false)
        a.send(.channelOpen(channel: 1, bufAlloc: 1 << 20))
        try #require(a.read { if case .channelAccept(1, _) = $0 { return true } else { return false } })
        a.send(.resourceOpen(channel: 1, resource: 5, kind: .shmPool, size: 4096))
        a.send(.data(channel: 1, credit: credit, resources: [], bytes: WireCodec.encode(objectID: 1, opcode: 1, [.newID(2)])))
        try #require(a.read { if case .data(1, _, _, let b) = $0 { return waylandMessages(b).contains { $0.object == 2 } } else { return false } })

        // Guest B, channel 1 of its own: object 2 does not exist there, and
        // neither does resource 5. Its channel fails; its link lives on.
        let b = try RawLinkGuest(path: path, offerRegion: false)
        b.send(.channelOpen(channel: 1, bufAlloc: 1 << 20))
        try #require(b.read { if case .channelAccept(1, _) = $0 { return true } else { return false } })
        b.send(.data(channel: 1, credit: credit, resources: [], bytes: WireCodec.encode(objectID: 2, opcode: 0, [.uint(1), .untypedNewID(interface: Array("wl_shm".utf8), version: 1, id: 3)])))
        #expect(b.read { if case .channelClose(1, _, _) = $0 { return true } else { return false } }, "B used an object of A's")
        b.send(.channelClose(channel: 1, code: 0, reason: "ack"))

        // B names A's resource 5 on a new channel of its own: a link error for B only.
        b.send(.channelOpen(channel: 2, bufAlloc: 1 << 20))
        try #require(b.read { if case .channelAccept(2, _) = $0 { return true } else { return false } })
        b.send(.resourceUpdate(channel: 2, resource: 5, ranges: [UpdateRange(offset: 0, length: 4)], bytes: [1, 2, 3, 4]))
        #expect(b.waitForClose(), "B wrote into a resource of A's")
        // And a channel B never opened (A's channel 1 is not B's): also B's own error.
        let c = try RawLinkGuest(path: path, offerRegion: false)
        c.send(.data(channel: 1, credit: credit, resources: [], bytes: WireCodec.encode(objectID: 1, opcode: 0, [.newID(9)])))
        #expect(c.waitForClose(), "C reached A's channel 1")

        // A is untouched: its channel still answers, and its resource still takes updates.
        a.send(.resourceUpdate(channel: 1, resource: 5, ranges: [UpdateRange(offset: 0, length: 4)], bytes: [1, 2, 3, 4]))
        a.send(.data(channel: 1, credit: credit, resources: [], bytes: WireCodec.encode(objectID: 1, opcode: 0, [.newID(3)])))
        #expect(a.read { if case .data(1, _, _, let b) = $0 { return waylandMessages(b).contains { $0.object == 3 } } else { return false } },
                "guest A's channel stopped working: \(setup.host.diagnostics())")
        #expect(setup.host.isRunning)
        let logs = setup.host.diagnostics(tailLines: 60)
        #expect(logs.contains("unknown resource 5"), "\(logs)")
        #expect(logs.contains("unknown channel 1"), "\(logs)")
    }
}
