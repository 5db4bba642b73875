import Foundation
import Glibc

/// How frames get from the bench clients to the compositor.
public enum BenchMode: String, Sendable, CaseIterable, Codable {
    /// Clients connect straight to the compositor: the baseline.
    case direct
    /// Through `porthole guest` and `porthole host` joined by a unix-socket
    /// link: damaged, changed bytes are copied over the link.
    case stream
    /// Through porthole with a shared region (a file in /dev/shm both proxies
    /// map): the guest copies changed damaged bytes into it, the compositor
    /// reads it, the link carries protocol only.
    case region
    /// As `region`, but the clients allocate their buffers in the region
    /// through porthole_shared_memory_v1 and draw there: no proxy copies.
    case cooperative
    /// Through `waypipe server` and `waypipe client` (Debian's waypipe).
    case waypipe

}

/// waypipe's --compress choice.
public enum WaypipeCompression: String, Sendable, CaseIterable, Codable {
    case none, lz4, zstd
}

/// The compositor the frames end up in.
public enum BenchCompositor: String, Sendable, CaseIterable, Codable {
    /// The in-process sink: checks every frame's pixels and times its arrival.
    case sink
    /// A real headless weston (pixman): frames are only counted.
    case weston
}

/// Counters of a running mode at one idle moment.
struct ModeCounters {
    /// The proxy processes (and their children).
    var processes: ProcessSample
    /// Bytes the link carried in both directions so far, if known.
    var linkBytes: UInt64?
    /// Buffer bytes the proxies copied in memory so far, if known.
    var copiedBytes: UInt64?
    /// Bytes one side wrote to the link minus what the other read (waypipe:
    /// a consistency check of the /proc counting), if known.
    var linkImbalance: Int64?
}

/// A mode set up and running: where clients connect and how to read its counters.
protocol RunningMode: AnyObject {
    /// The absolute path of the socket bench client `index` connects to.
    func clientSocket(for index: Int) -> String
    /// Whether proxy processes are involved at all.
    var hasProxies: Bool { get }
    /// Reads the counters. Called while the clients are idle; may wait briefly
    /// for counters to be brought up to date.
    func counters() throws -> ModeCounters
    /// Checks the proxies still run; throws with their logs if not.
    func checkAlive() throws
    /// Ends the proxies.
    func stop()
}

/// Clients talk to the compositor itself.
final class DirectMode: RunningMode {
    let clientSocket: String
    init(compositorSocket: String) { clientSocket = compositorSocket }
    func clientSocket(for index: Int) -> String { clientSocket }
    var hasProxies: Bool { false }
    func counters() throws -> ModeCounters { ModeCounters(processes: .zero) }
    func checkAlive() throws {}
    func stop() {}
}

/// porthole host (listening on a unix link) and one or more porthole
/// guests (each its own link, as several VMs), each writing its --stats
/// file; with `regionBytes`, host and guest map a shared region file in
/// /dev/shm (removed at stop).
final class StreamMode: RunningMode {
    private let host: Spawned
    private let guests: [Spawned]
    private let sockets: [String]
    private let hostStats: String
    private let guestStats: [String]
    private let regionFile: String?

    /// A power-of-two region holding every client's two buffers, 16 MiB to 1 GiB.
    /// A region that holds two buffers of every client's window.
    static func regionSize(_ clients: [ClientSpec]) -> Int {
        let need = clients.reduce(0) { $0 + 2 * ($1.width * 4 * $1.height + 4096) } + (1 << 20)
        var size = 16 << 20
        while size < need && size < (1 << 30) { size <<= 1 }
        return size
    }

    init(porthole: String, runtime: String, compositorSocket: String, regionBytes: Int? = nil, guests count: Int = 1) throws {
        precondition(count >= 1 && (count == 1 || regionBytes == nil), "several guests only without a region")
        let link = "\(runtime)/porthole-link.sock"
        hostStats = "\(runtime)/host-stats.json"
        guestStats = (0..<count).map { k in k == 0 ? "\(runtime)/guest-stats.json" : "\(runtime)/guest-\(k)-stats.json" }
        sockets = (0..<count).map { k in k == 0 ? "\(runtime)/porthole-guest" : "\(runtime)/porthole-guest-\(k)" }
        let env = ["XDG_RUNTIME_DIR": runtime]
        var hostRegion: [String] = [], guestRegion: [String] = []
        if let regionBytes {
            let file = "/dev/shm/porthole-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            regionFile = file
            hostRegion = ["--region", file, "--region-size", "\(regionBytes)"]
            guestRegion = ["--region", file]
        } else {
            regionFile = nil
        }
        let host = try Spawned(name: "porthole host", arguments: [porthole, "host", "--listen", "unix:\(link)", "--display", compositorSocket, "--stats", hostStats] + hostRegion,
                           environment: env, logPath: "\(runtime)/porthole-host.log")
        let regionFile = self.regionFile
        var started: [Spawned] = []
        func fail(_ why: String) -> BenchError {
            for g in started { g.stop() }
            host.stop()
            if let f = regionFile { unlink(f) }
            return BenchError(why)
        }
        guard waitUntil(timeout: 10, { isSocket(link) || !host.isRunning }), host.isRunning else {
            throw fail("porthole host did not listen on \(link):\n\(host.logTail())")
        }
        for k in 0..<count {
            // Buffer-sharing sockets are per guest, and the guest's producer socket
            // has the host's consumer socket's default name: in one runtime
            // directory every guest needs its own names, the first one too.
            let named = ["--buffers-socket", "porthole-buffers-guest-\(k)", "--buffers-consumer-socket", "porthole-buffer-consumers-guest-\(k)"]
            do {
                started.append(try Spawned(name: "porthole guest", arguments: [porthole, "guest", "--connect", "unix:\(link)", "--socket", sockets[k],
                                                                              "--no-reconnect", "--stats", guestStats[k]] + named + guestRegion,
                                          environment: env, logPath: k == 0 ? "\(runtime)/porthole-guest.log" : "\(runtime)/porthole-guest-\(k).log"))
            } catch {
                throw fail("porthole guest \(k) did not start: \(error)")
            }
        }
        let guests = started, sockets = self.sockets, files = guestStats + [hostStats]
        let up = waitUntil(timeout: 10) {
            (sockets.allSatisfy(isSocket) && files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
                || !guests.allSatisfy(\.isRunning) || !host.isRunning
        }
        guard up, guests.allSatisfy(\.isRunning), host.isRunning else {
            throw fail("porthole guest or host did not come up:\n" + Self.logTails(guests + [host]))
        }
        self.host = host
        self.guests = guests
    }

    func clientSocket(for index: Int) -> String { sockets[index % sockets.count] }

    /// The last lines of each proxy's log, for an error.
    private static func logTails(_ proxies: [Spawned]) -> String { proxies.map { $0.logTail() }.joined(separator: "\n") }

    var hasProxies: Bool { true }

    func counters() throws -> ModeCounters {
        let asked = Date()
        // The stats files are rewritten every half second: wait for a write
        // after this moment, so they include everything sent until now.
        let paths = guestStats + [hostStats]
        guard waitUntil(timeout: 3, { paths.allSatisfy { modificationDate($0).map { $0 > asked } ?? false } }) else {
            throw BenchError("the porthole stats files were not rewritten within 3 s")
        }
        let stats = try paths.map { try readStats($0) }
        let link = stats.reduce(UInt64(0)) { $0 + ($1["link_sent_bytes"] ?? 0) }
        let copied = stats.reduce(UInt64(0)) { $0 + ($1["copied_bytes"] ?? 0) }
        return ModeCounters(processes: ProcFS.sample(tree: guests.map(\.pid) + [host.pid]), linkBytes: link, copiedBytes: copied)
    }

    func checkAlive() throws {
        guard guests.allSatisfy(\.isRunning), host.isRunning else {
            throw BenchError("a porthole proxy ended:\n" + Self.logTails(guests + [host]))
        }
    }

    func stop() {
        for g in guests { g.stop() }
        host.stop()
        if let regionFile { unlink(regionFile) }
    }
}

/// `waypipe client` next to the compositor, `waypipe server -- sleep` next to
/// the clients, which connect to the server's --display socket.
final class WaypipeMode: RunningMode {
    let clientSocket: String
    private let client: Spawned
    private let server: Spawned

    func clientSocket(for index: Int) -> String { clientSocket }

    init(runtime: String, compositorName: String, compression: WaypipeCompression) throws {
        let link = "\(runtime)/waypipe-link.sock"
        clientSocket = "\(runtime)/waypipe-app"
        let options = ["--compress", compression.rawValue, "--no-gpu", "-s", link]
        let client = try Spawned(name: "waypipe client", arguments: ["waypipe"] + options + ["client"],
                             environment: ["XDG_RUNTIME_DIR": runtime, "WAYLAND_DISPLAY": compositorName],
                             logPath: "\(runtime)/waypipe-client.log")
        guard waitUntil(timeout: 10, { isListening(link) || !client.isRunning }), client.isRunning else {
            client.stop()
            throw BenchError("waypipe client did not create \(link):\n\(client.logTail())")
        }
        let server: Spawned
        do {
            server = try Spawned(name: "waypipe server", arguments: ["waypipe"] + options + ["--display", clientSocket, "server", "--", "sleep", "86400"],
                                 environment: ["XDG_RUNTIME_DIR": runtime], logPath: "\(runtime)/waypipe-server.log")
        } catch {
            client.stop()
            throw error
        }
        self.client = client
        self.server = server
        let socket = clientSocket
        guard waitUntil(timeout: 10, { isListening(socket) || !server.isRunning }), server.isRunning else {
            server.stop()
            client.stop()
            throw BenchError("waypipe server did not create \(socket):\n\(server.logTail())")
        }
    }

    var hasProxies: Bool { true }

    func counters() throws -> ModeCounters {
        // waypipe keeps no counters. Its link traffic is what its processes
        // write with write(2)/writev(2) (counted in /proc/PID/io wchar), while
        // Wayland sockets are written with sendmsg(2), which wchar does not
        // count. What the server side wrote should then match what the client
        // side read (rchar), which is kept as a check.
        let s = ProcFS.sample(tree: [server.pid])
        let c = ProcFS.sample(tree: [client.pid])
        return ModeCounters(processes: s + c, linkBytes: s.writtenBytes + c.writtenBytes, copiedBytes: nil,
                            linkImbalance: Int64(bitPattern: s.writtenBytes &- c.readBytes))
    }

    func checkAlive() throws {
        guard server.isRunning, client.isRunning else {
            throw BenchError("a waypipe process ended:\n\(server.logTail())\n\(client.logTail())")
        }
    }

    func stop() {
        server.stop()
        client.stop()
    }
}

/// A headless weston (pixman renderer) on `RUNTIME/weston`.
final class WestonCompositor {
    let socketName = "weston"
    let socketPath: String
    private let process: Spawned

    init(runtime: String, width: Int, height: Int) throws {
        socketPath = "\(runtime)/\(socketName)"
        let config = "\(runtime)/weston.ini"
        try """
            [core]
            idle-time=0

            [shell]
            background-color=0xff204060
            panel-position=none
            locking=false
            animation=none
            close-animation=none
            startup-animation=none
            focus-animation=none

            """.write(toFile: config, atomically: true, encoding: .utf8)
        let process = try Spawned(name: "weston", arguments: ["weston", "--config=\(config)", "--backend=headless-backend.so", "--socket=\(socketName)",
                                                          "--width=\(min(width, 3840))", "--height=\(min(height, 2160))", "--use-pixman"],
                              environment: ["XDG_RUNTIME_DIR": runtime], logPath: "\(runtime)/weston.log")
        self.process = process
        let socket = socketPath
        guard waitUntil(timeout: 15, { isListening(socket) || !process.isRunning }), process.isRunning else {
            process.stop()
            throw BenchError("weston did not start:\n\(process.logTail())")
        }
    }

    func stop() { process.stop() }
}

func modificationDate(_ path: String) -> Date? {
    (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
}

/// A flat JSON object of counters, as `porthole --stats` writes it.
func readStats(_ path: String) throws -> [String: UInt64] {
    guard let data = FileManager.default.contents(atPath: path),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw BenchError("cannot read the stats file \(path)")
    }
    var out: [String: UInt64] = [:]
    for (k, v) in object {
        if let n = v as? NSNumber { out[k] = n.uint64Value }
    }
    return out
}
