import Glibc
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// A stream window that moved to the bulk lane syncs its large commits on
/// the guest proxy's copy thread (`MirrorSyncWork`): the host still gets
/// every byte in order, and a client that shrinks its pool file while its
/// sync waits for the thread ends alone, with wl_shm's invalid_fd.
@Suite("Stream windows on the bulk lane sync on the copy thread") struct LaneCopyThreadTests {
    typealias Window = SlicedSyncTests.Window
    typealias Blocker = RegionCopyThreadTests.Blocker

    /// A guest proxy with a bulk lane, an 8 MiB window and a small one drawn
    /// in turns until the big one has moved to the lane and synced a
    /// commit on the copy thread (64 MiB within a second beside a window
    /// drawing little: `LanePolicy`). Returns the last frame drawn.
    func setUp() throws -> (InProcessHost, InProcessGuest, big: Window, small: Window, frame: UInt8) {
        let h = try InProcessHost()
        let gp = try InProcessGuest(host: h, bulkLane: true)
        let big = try Window(gp, width: 2048, height: 1024, name: "big")
        let small = try Window(gp, width: 64, height: 64, name: "small")
        var n: UInt8 = 0
        while gp.guest.stats.syncsOnCopyThread == 0 && n < 60 {
            n += 1
            big.draw(n)
            small.draw(n)
            let want = Int(n)
            try #require(h.pump(timeout: 20) { big.commits == want && small.commits == want }, "frame \(n) did not arrive")
        }
        try #require(gp.guest.stats.syncsOnCopyThread > 0, "the big window never synced on the copy thread in \(n) frames")
        return (h, gp, big, small, n)
    }

    /// The bytes of `w`'s buffer in the compositor's pool.
    func hostBytes(_ w: Window) throws -> [UInt8] {
        let pool = try #require(w.compositor.messages(named: "wl_shm.create_pool").last?.fds.first, "the compositor got no pool fd")
        let view = try SharedMapping(fd: pool, size: w.width * w.height * 4, writable: false)
        return Array(UnsafeRawBufferPointer(start: view.base!, count: w.width * w.height * 4))
    }

    @Test("after the move the big window's frames are synced on the copy thread and arrive whole, the small one's beside them")
    func framesArriveWhole() throws {
        let (h, gp, big, small, n) = try setUp()
        defer { gp.tearDown() }
        let before = gp.guest.stats.syncsOnCopyThread
        for k in 1...3 {
            let frame = n &+ UInt8(k)
            big.draw(frame)
            small.draw(frame)
            let want = Int(n) + k
            try #require(h.pump(timeout: 20) { big.commits == want && small.commits == want },
                         "frame \(frame): big \(big.commits), small \(small.commits) of \(want) commits; on the copy thread \(gp.guest.stats.syncsOnCopyThread)")
            for w in [big, small] {
                let whole = try hostBytes(w).allSatisfy { $0 == frame }
                #expect(whole, "\(w.width)x\(w.height): not every byte is frame \(frame)'s")
            }
        }
        #expect(gp.guest.stats.syncsOnCopyThread >= before + 3)
        #expect(gp.guest.stats.clientErrors == 0)
    }

    @Test("a client whose pool file shrinks while its sync waits for the copy thread gets wl_shm invalid_fd; the other window goes on")
    func aShrunkPoolEndsThatClientAlone() throws {
        let (h, gp, big, small, n) = try setUp()
        defer { gp.tearDown() }
        let worker = try #require(gp.guest.copyOffload?.worker)
        let blocker = Blocker()
        blocker.hold(worker)
        big.draw(n &+ 1)
        try #require(h.pump { worker.pendingCount == 2 }, "the big window's commit was not handed to the copy thread")
        #expect(ftruncate(big.file.rawValue, 4096) == 0)
        blocker.release()
        try #require(h.pump(timeout: 20) { big.client.displayError != nil }, "the shrunken pool's client got no error")
        let error = try #require(big.client.displayError)
        #expect(error.code == ShmErrorCode.invalidFD.rawValue)
        #expect(error.message.contains("shrank"), "\(error.message)")
        #expect(gp.guest.stats.memoryFaults >= 1)
        small.draw(n &+ 2)
        let want = Int(n) + 1
        try #require(h.pump(timeout: 20) { small.commits == want }, "the other window stopped")
        #expect(try hostBytes(small).allSatisfy { $0 == n &+ 2 })
    }
}
