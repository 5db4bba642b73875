@testable import Link
import PortholeSystem
@testable import Proxy
import SystemTestSupport
import Testing
import Wayland

extension InProcessHost {
    /// What an app does for its first frame, from a new guest link: open a
    /// channel, get the globals, bind wl_compositor and wl_shm, make a
    /// surface, a 64x64 pool filled over the link, a buffer, attach, damage
    /// and commit. Returns the seconds from connecting until the compositor
    /// has the commit (what the floods of `HostQuotaTests` measure), and the
    /// guest. The seconds are this thread's CPU time: the host, its
    /// compositor and every raw guest run on this thread's loop, so that is
    /// all the work done before the honest frame arrived (the flood's
    /// included), while other processes and other tests' threads on this
    /// shared machine do not count; the loop never sleeps while a frame of
    /// it waits, so on a core of its own that is the latency.
    func honestFirstFrame(sourceLocation: SourceLocation = #_sourceLocation) throws -> (seconds: Double, guest: RawGuestLink) {
        let start = threadCPUNanoseconds()
        let g = try connectGuest(sourceLocation: sourceLocation)
        let ch = try openClient(1, on: g, sourceLocation: sourceLocation)
        let size = 64 * 64 * 4
        g.wayland(1, [bind(1, "wl_compositor", 4, id: 3), bind(2, "wl_shm", 1, id: 4), wl(3, 0, [.newID(5)])])
        g.send(.resourceOpen(channel: 1, resource: 1, kind: .shmPool, size: UInt64(size)))
        g.send(.resourceUpdate(channel: 1, resource: 1, ranges: [UpdateRange(offset: 0, length: UInt32(size))],
                               bytes: [UInt8](repeating: 0x5A, count: size)))
        g.wayland(1, [wl(4, 0, [.newID(6), .fd, .int(Int32(size))]),
                      wl(6, 0, [.newID(7), .int(0), .int(64), .int(64), .int(256), .uint(1)]),
                      wl(5, 1, [.object(7), .int(0), .int(0)]), wl(5, 2, [.int(0), .int(0), .int(64), .int(64)]), wl(5, 6, [])],
                  resources: [1])
        try #require(pump { !ch.compositor.messages(named: "wl_surface.commit").isEmpty || g.isClosed || g.channelClose(1) != nil },
                     "no first frame: \(g.closeReason ?? g.channelClose(1).map { "\($0)" } ?? "timeout")", sourceLocation: sourceLocation)
        try #require(!ch.compositor.messages(named: "wl_surface.commit").isEmpty, "the first frame was refused", sourceLocation: sourceLocation)
        return (Double(threadCPUNanoseconds() - start) / 1e9, g)
    }
}
