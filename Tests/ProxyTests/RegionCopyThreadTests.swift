import Glibc
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// The guest proxy's copy thread (`SyncOffload`): a large region copy runs
/// beside the loop, and whatever a client does meanwhile (closing, shrinking
/// its pool file) ends that client alone, never with a read of unmapped
/// memory or a crash. The thread is held busy with a job of the test's own
/// so that the client's copy is certainly still to run when the client acts.
@Suite("Region copies on the copy thread") struct RegionCopyThreadTests {
    typealias Window = SlicedSyncTests.Window

    /// A job that keeps the copy thread busy until `release`.
    final class Blocker: @unchecked Sendable {
        let gate: UnsafeMutablePointer<sem_t>
        init() {
            gate = .allocate(capacity: 1)
            sem_init(gate, 0, 0)
        }
        func hold(_ worker: BackgroundWorker) { worker.submit({ while sem_wait(self.gate) != 0 {} }, completion: {}) }
        func release() { sem_post(gate) }
        /// Releases from another thread 50 ms from now: for a loop that
        /// will be waiting for the copy thread meanwhile.
        func releaseSoon() {
            let box = Unmanaged.passRetained(self)
            var t = pthread_t()
            pthread_create(&t, nil, { raw in
                let b = Unmanaged<Blocker>.fromOpaque(raw!).takeRetainedValue()
                usleep(50_000)
                b.release()
                return nil
            }, box.toOpaque())
            pthread_detach(t)
        }
    }

    /// A guest proxy with a region, two windows drawn once, and the copy thread made.
    func setUp() throws -> (InProcessHost, InProcessGuest, large: Window, small: Window, worker: BackgroundWorker) {
        let h = try InProcessHost(regionSize: 128 << 20)
        let gp = try InProcessGuest(host: h, mapRegion: true, copyThread: true)
        let large = try Window(gp, width: 4096, height: 2048, name: "large")
        let small = try Window(gp, width: 64, height: 64, name: "small")
        large.draw(1)
        small.draw(1)
        try #require(h.pump(timeout: 20) { large.commits == 1 && small.commits == 1 })
        let worker = try #require(gp.guest.copyOffload?.worker, "the large commit did not start the copy thread")
        return (h, gp, large, small, worker)
    }

    /// The large window's next commit, its copy handed to the copy thread
    /// and held there behind a blocker the test lets go.
    func commitHeldOnTheCopyThread(_ h: InProcessHost, _ large: Window, _ worker: BackgroundWorker) throws -> Blocker {
        let blocker = Blocker()
        blocker.hold(worker)
        large.draw(2)
        try #require(h.pump { worker.pendingCount == 2 }, "the large commit's copy was not handed to the copy thread")
        return blocker
    }

    /// The other window's next commit still reaches the compositor.
    func expectItGoesOn(_ h: InProcessHost, _ small: Window) throws {
        small.draw(3)
        try #require(h.pump(timeout: 20) { small.commits == 2 }, "the other window stopped")
    }

    @Test("a client whose pool file shrinks before its queued copy runs gets wl_shm invalid_fd; the proxy and the other window go on")
    func aPoolShrinkingUnderTheCopyEndsThatClient() throws {
        let (h, gp, large, small, worker) = try setUp()
        defer { gp.tearDown() }
        let blocker = try commitHeldOnTheCopyThread(h, large, worker)
        // The copy was handed over (the file was whole then) and waits behind the blocker.
        #expect(ftruncate(large.file.rawValue, 4096) == 0)
        let faultsBefore = gp.guest.stats.memoryFaults
        blocker.release()
        try #require(h.pump(timeout: 20) { large.client.displayError != nil }, "the shrunken pool's client got no error")
        let error = try #require(large.client.displayError)
        #expect(error.code == ShmErrorCode.invalidFD.rawValue)
        #expect(error.message.contains("shrank"), "\(error.message)")
        #expect(gp.guest.stats.memoryFaults == faultsBefore + 1, "the copy thread's fault was not caught and counted")
        #expect(large.commits == 1, "the commit of a pool that could not be read reached the compositor")
        try expectItGoesOn(h, small)
    }

    @Test("a client that disconnects while its copy is queued is closed after the copy ends, and the other window goes on")
    func aClientClosingDuringItsCopy() throws {
        let (h, gp, large, small, worker) = try setUp()
        defer { gp.tearDown() }
        let blocker = try commitHeldOnTheCopyThread(h, large, worker)
        let clientsBefore = gp.guest.stats.clients
        large.client.close()
        // The loop waits for the copy before it gives the chunk back, so the
        // blocker is let go from another thread.
        blocker.releaseSoon()
        try #require(h.pump(timeout: 20) { gp.guest.stats.clients == clientsBefore - 1 }, "the closed client's connection stayed open")
        #expect(large.commits == 1)
        try expectItGoesOn(h, small)
    }

    @Test("a lone large window's blind copies are handed over with the copy helper, where a second CPU can run it")
    func aLoneWindowGetsTheHelper() throws {
        let h = try InProcessHost(regionSize: 128 << 20)
        let gp = try InProcessGuest(host: h, mapRegion: true, copyThread: true)
        defer { gp.tearDown() }
        let large = try Window(gp, width: 4096, height: 2048, name: "large")
        // The first commit is compared; the next ones, all changed, blind.
        for n in 1...4 {
            large.draw(UInt8(n))
            try #require(h.pump(timeout: 20) { large.commits == n }, "frame \(n) did not arrive")
        }
        let offload = try #require(gp.guest.copyOffload)
        #expect(gp.guest.stats.syncsOnCopyThread >= 3)
        if CopyHelper.isWorthwhile {
            #expect(offload.helperOffers >= 2, "the blind copies of a lone window went without the helper")
        } else {
            #expect(offload.helper == nil && offload.helperOffers == 0)
        }
    }

    @Test("beside a window that drew within the last second, a large window's copies go without the helper")
    func aBusyDesktopKeepsTheHelperOut() throws {
        let (h, gp, large, small, _) = try setUp()
        defer { gp.tearDown() }
        let offload = try #require(gp.guest.copyOffload)
        let onThreadBefore = gp.guest.stats.syncsOnCopyThread
        for n in 2...5 {
            small.draw(UInt8(n))
            large.draw(UInt8(n))
            try #require(h.pump(timeout: 20) { large.commits == n && small.commits == n }, "frame \(n) did not arrive")
        }
        #expect(gp.guest.stats.syncsOnCopyThread >= onThreadBefore + 3, "the large window's copies did not go to the copy thread")
        #expect(offload.helperOffers == 0, "the helper was handed \(offload.helperOffers) copies beside a drawing window")
        #expect(gp.guest.stats.copyHelperBytes == 0)
    }
}
