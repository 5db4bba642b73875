import Foundation
import Glibc
import PortholeSystem

/// `scripts/vm` running one command in a QEMU guest (software emulation),
/// with its state directory in a RuntimeDir: console.log (the guest's serial
/// console), qemu.pid, host-proxy.log, and out/, the guest's writable share
/// holding the guest proxy's stats file.
///
/// The guest prints `PORTHOLE-VM-TIME EVENT UPTIME` lines (events: init,
/// ready, command); `waitForGuestEvent` reports when the host first saw each.
final class PortholeVM: @unchecked Sendable {
    let runtime: RuntimeDir
    let stateDir: String
    let process: ManagedProcess
    /// Monotonic seconds when scripts/vm was started.
    let startedAt: Double

    /// Starts scripts/vm.
    /// - hostSocket: a `porthole host --listen unix:PATH` already running;
    ///   QEMU connects to it and the script starts no host proxy.
    /// - hostDisplay: without hostSocket, the compositor socket (in
    ///   `runtime`) for the host proxy the script starts.
    /// - keepState: keep the state in `runtime` (else the script uses, and
    ///   removes, a temporary directory of its own).
    /// - region: shared-region mode (`--region pci` in the guest, an
    ///   ivshmem-plain device backed by the host proxy's region file).
    /// - regionFile: the host file behind the VM's ivshmem-plain device, of
    ///   the script's default size (else a file the script makes and removes);
    ///   several VMs given one file share its memory.
    init(
        runtime: RuntimeDir,
        command: [String],
        hostSocket: String? = nil,
        hostDisplay: String? = nil,
        guestOptions: [String] = [],
        hostOptions: [String] = [],
        keepState: Bool = true,
        region: Bool = false,
        regionFile: String? = nil,
        timeout: Int = 300
    ) throws {
        self.runtime = runtime
        stateDir = keepState ? try runtime.makeSubdirectory("vm") : runtime.file("vm-unused")
        var args = ["--porthole", try portholeBinary(), "--timeout", String(timeout)]
        if keepState { args += ["--state-dir", stateDir] }
        if region { args += ["--mode", "region"] }
        if let regionFile { args += ["--region", regionFile] }
        if let hostSocket { args += ["--host-socket", hostSocket] }
        if let hostDisplay { args += ["--host-opt", "--display", "--host-opt", hostDisplay] }
        for option in guestOptions { args += ["--guest-opt", option] }
        for option in hostOptions { args += ["--host-opt", option] }
        args += ["--"] + command
        startedAt = monotonicSeconds()
        process = try ManagedProcess(
            "\(packageRoot)/scripts/vm", args,
            environment: ["XDG_RUNTIME_DIR": runtime.path],
            logDirectory: runtime.path, name: "scripts-vm")
    }

    var consolePath: String { "\(stateDir)/console.log" }
    var console: String { (try? String(contentsOfFile: consolePath, encoding: .utf8)) ?? "" }
    var guestStatsPath: String { "\(stateDir)/out/guest-stats.json" }

    /// QEMU's pid, from its pid file (present while QEMU runs).
    var qemuPID: Int32? {
        (try? String(contentsOfFile: "\(stateDir)/qemu.pid", encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// A `vm: NAME pid N` line of the script's output (qemu, host proxy).
    func announcedPID(_ name: String) -> Int32? {
        for line in process.stdout.split(separator: "\n") where line.hasPrefix("vm: \(name) pid ") {
            let rest = line.dropFirst("vm: \(name) pid ".count)
            return Int32(rest.prefix { $0.isNumber })
        }
        return nil
    }

    /// Waits for the guest to print `PORTHOLE-VM-TIME event UPTIME` and returns
    /// the host's seconds since the VM was started when it first saw the line,
    /// and the guest's uptime in it. Fails early if scripts/vm ends first.
    func waitForGuestEvent(_ event: String, timeout: Double) throws -> (host: Double, guestUptime: Double) {
        let prefix = "PORTHOLE-VM-TIME \(event) "
        let found = waitUntil(timeout: timeout, poll: 0.02) {
            console.contains(prefix) || !process.isRunning
        }
        // The serial console ends lines with \r\n, a single Character in Swift.
        guard found, let line = console.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix(prefix) }) else {
            throw SupportError("""
                the guest did not report '\(event)' within \(timeout) s \
                (scripts/vm \(process.isRunning ? "still running" : "ended"))
                \(diagnostics())
                """)
        }
        let seen = monotonicSeconds() - startedAt
        let uptime = Double(line.dropFirst(prefix.count).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        return (seen, uptime)
    }

    /// The guest proxy's stats (its --stats file in the guest's share).
    func waitForGuestStats(_ what: String, timeout: Double, _ condition: ([String: Int]) -> Bool) throws -> [String: Int] {
        var last: [String: Int]?
        do {
            return try waitFor(what, timeout: timeout, poll: 0.1) { () -> [String: Int]? in
                let s = try readStatsFile(guestStatsPath, timeout: 0)
                last = s
                return condition(s) ? s : nil
            }
        } catch {
            throw SupportError("\(error); last guest stats: \(last.map { "\($0.sorted { $0.key < $1.key })" } ?? "none")")
        }
    }

    func diagnostics(tailLines: Int = 40) -> String {
        let consoleTail = console.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).suffix(tailLines)
            .joined(separator: "\n")
        let qemuLog = (try? String(contentsOfFile: "\(stateDir)/qemu.log", encoding: .utf8)) ?? ""
        return """
            \(process.diagnostics(tailLines: tailLines))
            [guest console] \(consolePath):
            \(consoleTail)
            [qemu.log] \(qemuLog)
            """
    }

    /// Ends scripts/vm (SIGTERM to its group: QEMU, the host proxy it started,
    /// its console copier), which removes what it created.
    @discardableResult
    func stop() -> ManagedProcess.Exit { process.terminate(timeout: 20) }
}

/// A procfs file's text. (procfs files report no size, so this reads until
/// end of file rather than trusting stat.)
func readProcFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SupportError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { throw SupportError("cannot read \(path): \(String(cString: strerror(errno)))") }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The lines of /proc/PID/maps that map shared memory a proxy could leak:
/// memfds (shm pools, keymaps) and files in /dev/shm (shared regions).
func sharedMemoryMappings(pid: Int32) throws -> [String] {
    try readProcFile("/proc/\(pid)/maps").split(separator: "\n").map(String.init)
        .filter { $0.contains("/memfd:") || $0.contains("/dev/shm/") }
}

/// A byte relay between QEMU's virtio-serial socket and a listening host
/// proxy, which follows the link's frame headers in the guest-to-host
/// direction and can cut that stream inside a frame.
///
/// QEMU connects to `path` (`scripts/vm --host-socket PATH`); the relay then
/// connects to the host proxy's socket and passes bytes both ways unchanged.
/// Once armed with `cutInsideNextFrame`, it passes on the header and the
/// first half of the next large resource-update frame, runs the action (the
/// test kills QEMU there), drops everything else QEMU sent, and closes the
/// host proxy's end when QEMU's end has closed. The host proxy then sees what
/// it sees when QEMU dies halfway through writing a frame, every time rather
/// than by luck of timing.
final class LinkCutRelay: @unchecked Sendable {
    struct Cut: Sendable, CustomStringConvertible {
        /// The frame's payload length (the 12-byte header not counted).
        let payloadBytes: Int
        /// Bytes of the frame (header included) passed on to the host proxy.
        let passedBytes: Int
        var description: String { "\(passedBytes) of \(12 + payloadBytes) bytes of a resource-update frame" }
    }

    let path: String
    private let target: String
    private let listener: OwnedFD
    private let lock = NSLock()
    private var armed: (minimumPayload: Int, action: @Sendable () -> Void)?
    private var cut: Cut?
    private var stopping = false
    private var finished = false

    init(listenAt path: String, forwardTo target: String) throws {
        self.path = path
        self.target = target
        do {
            listener = try Socket.listen(.unix(path: path))
        } catch {
            throw SupportError("relay: cannot listen on \(path): \(error)")
        }
        let thread = Thread { [self] in run() }
        thread.name = "link-cut-relay"
        thread.start()
    }

    /// Cuts the stream inside the next resource-update frame whose payload is
    /// at least `minimumPayload` bytes, running `action` at that point.
    func cutInsideNextFrame(minimumPayload: Int, action: @escaping @Sendable () -> Void) {
        lock.withLock { armed = (minimumPayload, action) }
    }

    /// Waits for the cut; nil if it did not happen within `timeout` seconds.
    func waitForCut(timeout: Double) -> Cut? {
        waitUntil(timeout: timeout, poll: 0.01) { lock.withLock { cut != nil } }
        return lock.withLock { cut }
    }

    /// Stops the relay and closes its sockets.
    func stop() {
        lock.withLock { stopping = true }
        waitUntil(timeout: 5, poll: 0.01) { lock.withLock { finished } }
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func run() {
        defer {
            listener.close()
            unlink(path)
            lock.withLock { finished = true }
        }
        while !isStopping {
            guard wait(listener.rawValue, POLLIN), let guest = try? Socket.accept(listener) else { continue }
            guard let host = try? Socket.connect(.unix(path: target)) else { guest.close(); continue }
            relay(guest: guest, host: host)
            guest.close()
            host.close()
        }
    }

    /// Polls one fd for `events` for up to 50 ms.
    private func wait(_ fd: Int32, _ events: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(events), revents: 0)
        return poll(&p, 1, 50) > 0
    }

    /// Writes all of `bytes` to a non-blocking fd; false if the peer is gone.
    private func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            let n = rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                rest = rest.dropFirst(n)
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                if isStopping { return false }
                _ = wait(fd, POLLOUT)
            } else {
                return false
            }
        }
        return true
    }

    private func relay(guest: OwnedFD, host: OwnedFD) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        // Guest-to-host frame tracking.
        var header: [UInt8] = []
        var payloadLeft = 0
        var cutAt: Int?      // payload bytes still to pass before the cut
        var frameLength = 0
        var passed = 0
        var dropping = false
        while !isStopping {
            var fds = [pollfd(fd: guest.rawValue, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: host.rawValue, events: Int16(dropping ? 0 : POLLIN), revents: 0)]
            guard poll(&fds, 2, 50) > 0 else { continue }
            if fds[1].revents != 0 && !dropping {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(host.rawValue, $0.baseAddress, $0.count) }
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return }
                if n > 0 && !writeAll(guest.rawValue, buffer[0..<n]) { return }
            }
            guard fds[0].revents != 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(guest.rawValue, $0.baseAddress, $0.count) }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            if n <= 0 { return }  // QEMU's end closed: close the host's end too
            if dropping { continue }
            var i = 0
            var out = ArraySlice<UInt8>()
            while i < n {
                if payloadLeft == 0 {
                    header.append(buffer[i]); i += 1
                    if header.count == 12 {
                        payloadLeft = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
                        let type = Int(header[4]) | Int(header[5]) << 8
                        frameLength = payloadLeft
                        passed = 12
                        if type == 34, let a = lock.withLock({ armed }), payloadLeft >= a.minimumPayload {
                            cutAt = payloadLeft / 2
                        }
                        header = []
                    }
                    continue
                }
                var take = min(payloadLeft, n - i)
                if let c = cutAt { take = min(take, c) }
                i += take
                payloadLeft -= take
                passed += take
                if let c = cutAt {
                    cutAt = c - take
                    if cutAt == 0 {
                        out = buffer[0..<i]
                        dropping = true
                        break
                    }
                }
            }
            if !dropping { out = buffer[0..<n] }
            if !writeAll(host.rawValue, out) { return }
            if dropping {
                let action = lock.withLock { () -> (@Sendable () -> Void)? in
                    defer { armed = nil }
                    return armed?.action
                }
                action?()
                lock.withLock { cut = Cut(payloadBytes: frameLength, passedBytes: passed) }
            }
        }
    }
}
