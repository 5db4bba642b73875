import Foundation
import Glibc

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
