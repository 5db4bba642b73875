import Foundation
import Glibc
import Harness

/// The descriptor count of a process at rest: the smallest of several samples,
/// since writing the stats file opens one briefly.
func restingFDCount(_ process: PortholeProcess) throws -> Int {
    // The first stats file is written once the proxy has set everything up.
    _ = try process.stats(timeout: 10)
    var best = Int.max
    for _ in 0..<10 {
        best = min(best, try process.openFDCount())
        usleep(50_000)
    }
    return best
}

/// A headless weston and a porthole host listening on a unix link for
/// guests, in one runtime dir; guests are started by the test. `stop()`
/// ends both.
final class WestonWithHost {
    let runtime: RuntimeDir
    let weston: Weston
    let host: PortholeProcess
    let address: LinkAddress

    /// `hostArguments(runtime)` gives extra arguments for the host proxy.
    init(hostArguments: (RuntimeDir) -> [String] = { _ in [] }) throws {
        runtime = try RuntimeDir()
        weston = try Weston(runtime: runtime)
        address = .unix(in: runtime)
        do {
            host = try Porthole.startHost(runtime: runtime, link: .listen(address), display: weston.socketName,
                                          extraArguments: hostArguments(runtime))
            try host.waitForListening()
        } catch {
            weston.stop()
            throw error
        }
    }

    /// Starts a guest connected to the host.
    func startGuest(socketName: String = "wayland-porthole", arguments: [String] = [], command: [String] = []) throws -> PortholeProcess {
        try Porthole.startGuest(runtime: runtime, link: .connect(address), socketName: socketName, extraArguments: arguments, command: command)
    }

    func stop() {
        host.terminate()
        weston.stop()
    }
}

/// Harness's RecordingCompositor behind a porthole host and guest, in one
/// runtime dir; the guest's socket and bulk lane are up when `init` returns. `stop()` ends all three.
final class RecordedProxies {
    let runtime: RuntimeDir
    let compositor: RecordingCompositor
    let host: PortholeProcess
    let guest: PortholeProcess

    /// `tcp` links over loopback TCP instead of a unix socket; the argument
    /// closures give extra options for each proxy (they may name files in the runtime dir).
    init(recordLimit: Int = 512, tcp: Bool = false,
         hostArguments: (RuntimeDir) -> [String] = { _ in [] }, guestArguments: (RuntimeDir) -> [String] = { _ in [] }) throws {
        runtime = try RuntimeDir()
        let compositorPath = runtime.file("recording-compositor")
        compositor = RecordingCompositor(socketPath: compositorPath, recordLimit: recordLimit)
        try compositor.start()
        var started: [PortholeProcess] = []
        do {
            let address: LinkAddress = tcp ? try .freeLoopbackTCP() : .unix(in: runtime)
            let host = try Porthole.startHost(runtime: runtime, link: .listen(address), display: compositorPath,
                                              extraArguments: hostArguments(runtime))
            started.append(host)
            try host.waitForListening()
            let guest = try Porthole.startGuest(runtime: runtime, link: .connect(address), extraArguments: guestArguments(runtime))
            started.append(guest)
            try guest.waitForSocket()
            try PortholeProcess.waitForBulkLane(host: host, guest: guest)
            self.host = host
            self.guest = guest
        } catch {
            for p in started { p.terminate() }
            compositor.stop()
            throw error
        }
    }

    func stop() {
        guest.terminate()
        host.terminate()
        compositor.stop()
    }
}
