import Dispatch
import Glibc
import PortholeSystem
import SystemTestSupport
import Testing

// The link transports beyond unix: and tcp: — vsock:, vsock-mux: (hybrid
// vsock) and file: — and the byte path for descriptors that are not sockets.


/// A vsock port unlikely to be in use.
func randomVsockPort() -> UInt32 { UInt32.random(in: 20_000...60_000) }

private func seconds(since start: UInt64) -> Double { Double(monotonicNow() - start) / 1e9 }

@Suite struct VsockTransportTests {
    @Test func listenOnAnyCIDBindsTheGivenPort() throws {
        let port = randomVsockPort()
        let listener = try Socket.listen(.vsock(cid: SocketAddress.vsockAnyCID, port: port))
        #expect(fcntl(listener.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(hasCloseOnExec(listener.rawValue))
        var raw = [UInt8](repeating: 0, count: 16)
        var len = socklen_t(raw.count)
        let rc = raw.withUnsafeMutableBytes { getsockname(listener.rawValue, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), &len) }
        #expect(rc == 0)
        let family = UInt16(raw[0]) | UInt16(raw[1]) << 8
        let boundPort = raw[4..<8].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let boundCID = raw[8..<12].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(family == UInt16(AF_VSOCK))
        #expect(boundPort == port)
        #expect(boundCID == SocketAddress.vsockAnyCID)
        // Nothing waiting yet.
        #expect(try Socket.accept(listener) == nil)
        // The port is taken now.
        let e = systemError("a second listener on vsock port \(port)") {
            _ = try Socket.listen(.vsock(cid: SocketAddress.vsockAnyCID, port: port))
        }
        #expect(e?.code == EADDRINUSE, "\(String(describing: e))")
        #expect(e?.description.contains("vsock:any:\(port)") == true, "\(String(describing: e))")
    }

    @Test func connectToAnUnreachableCIDFailsWithinTheTimeout() throws {
        // This machine has no vsock loopback: nothing answers on CID 1.
        let start = monotonicNow()
        let e = systemError("connect to vsock CID 1") { _ = try Socket.connect(.vsock(cid: 1, port: 5000), timeout: 10) }
        let elapsed = seconds(since: start)
        #expect(elapsed < 11, "gave up after \(elapsed) s")
        let error = try #require(e)
        #expect(error.description.hasPrefix("connect vsock:1:5000"), "\(error)")
        #expect(error.code != 0)
    }

    // The kernel answers a connect to CID 1 here either at once (EPERM) or
    // after its own 2 s vsock timeout (ETIMEDOUT); with a shorter deadline
    // ours must end the wait first.
    @Test func connectGivesUpAtItsOwnDeadline() throws {
        let start = monotonicNow()
        let e = systemError("connect to vsock CID 1") { _ = try Socket.connect(.vsock(cid: 1, port: 5001), timeout: 0.3) }
        let elapsed = seconds(since: start)
        let error = try #require(e)
        #expect(elapsed < 1.5, "gave up after \(elapsed) s")
        #expect(error.description.hasPrefix("connect vsock:1:5001: "), "\(error)")
        if error.code == ETIMEDOUT {
            #expect(elapsed >= 0.25)
            #expect(error.description.hasPrefix("connect vsock:1:5001: no connection within 0.3 s"), "\(error)")
        }
    }

    @Test func pendingConnectReportsTheFailureOnTheLoop() throws {
        let loop = try EventLoop()
        var result: Result<OwnedFD, SystemError>?
        let start = monotonicNow()
        let pending = PendingConnect(to: .vsock(cid: 1, port: 5002), loop: loop, timeout: 0.3) { result = $0 }
        #expect(result == nil, "never completes from init")
        #expect(try runLoop(loop, timeout: 5) { result != nil })
        #expect(pending.isFinished)
        guard case .failure(let error) = result else { Issue.record("expected a failure, got \(String(describing: result))"); return }
        #expect(error.description.hasPrefix("connect vsock:1:5002: "), "\(error)")
        #expect(seconds(since: start) < 1.5)
    }

    @Test func anyCIDCannotBeConnectedTo() throws {
        let e = systemError("connect to CID any") { _ = try Socket.connect(.vsock(cid: SocketAddress.vsockAnyCID, port: 5)) }
        #expect(e?.code == EINVAL)
        #expect(e?.description.contains("CID 'any' can only be listened on") == true, "\(String(describing: e))")
    }

    @Test func muxAndFileAddressesCannotBeListenedOn() throws {
        let mux = systemError("listen vsock-mux") { _ = try Socket.listen(.vsockMux(path: "/tmp/none.sock", port: 5)) }
        #expect(mux?.code == EINVAL)
        #expect(mux?.description.contains("can only be connected to") == true, "\(String(describing: mux))")
        let file = systemError("listen file") { _ = try Socket.listen(.file(path: "/dev/null")) }
        #expect(file?.code == EINVAL)
        #expect(file?.description.contains("opened, not listened on") == true, "\(String(describing: file))")
    }
}

@Suite struct FileTransportTests {
    @Test func opensAPtyInRawModeAsANonBlockingPlainStream() throws {
        let (master, path) = try openPTY()
        let slave = try Socket.connect(.file(path: path))
        #expect(fcntl(slave.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(fcntl(slave.rawValue, F_GETFL) & O_ACCMODE == O_RDWR)
        #expect(hasCloseOnExec(slave.rawValue))
        #expect(StreamKind.of(slave) == .plain)
        #expect(StreamKind.of(master) == .plain)
        var tio = termios()
        #expect(tcgetattr(slave.rawValue, &tio) == 0)
        #expect(tio.c_lflag & tcflag_t(ICANON | ECHO | ISIG) == 0, "raw mode: no line editing, echo or signals")
        #expect(tio.c_iflag & tcflag_t(ICRNL | IXON) == 0)
        #expect(tio.c_oflag & tcflag_t(OPOST) == 0)

        // Every byte value crosses unchanged, both ways.
        let all: [UInt8] = Array(0...255) + Array(0...255).reversed()
        writeAll(master.rawValue, all)
        let input = ReadBuffer()
        let deadline = monotonicNow() + 5_000_000_000
        while input.count < all.count && monotonicNow() < deadline {
            _ = waitFor(slave.rawValue, timeoutMs: 100)
            #expect(try input.fill(from: slave, kind: .plain))
        }
        #expect(input.withUnconsumed { Array($0) } == all)
        let output = WriteQueue()
        output.enqueue(all)
        while try !output.flush(to: slave, kind: .plain) { _ = waitFor(slave.rawValue, events: Int16(POLLOUT)) }
        let back = ReadBuffer()
        while back.count < all.count && monotonicNow() < deadline {
            _ = waitFor(master.rawValue, timeoutMs: 100)
            _ = try back.fill(from: master, kind: .plain)
        }
        #expect(back.withUnconsumed { Array($0) } == all)
    }

    @Test func devNullIsACharacterDevice() throws {
        let fd = try Socket.connect(.file(path: "/dev/null"))
        #expect(StreamKind.of(fd) == .plain)
        #expect(isatty(fd.rawValue) == 0)
    }

    @Test func refusesWhatIsNotACharacterDevice() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("regular")
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        #expect(fd >= 0)
        close(fd)
        let regular = systemError("file: on a regular file") { _ = try Socket.connect(.file(path: path)) }
        #expect(regular?.code == ENODEV)
        #expect(regular?.description.contains("file:\(path) is not a character device") == true, "\(String(describing: regular))")

        let missing = systemError("file: on a missing path") { _ = try Socket.connect(.file(path: path + ".missing")) }
        #expect(missing?.code == ENOENT)
        #expect(missing?.description.hasPrefix("open file:\(path).missing") == true, "\(String(describing: missing))")

        let listener = try Socket.listen(.unix(path: path + ".sock"))
        defer { unlink(path + ".sock"); _ = listener }
        let socket = systemError("file: on a unix socket") { _ = try Socket.connect(.file(path: path + ".sock")) }
        #expect(socket?.code == ENXIO || socket?.code == ENODEV, "\(String(describing: socket))")
    }

    @Test func plainStreamsMoveBytesWithReadAndWrite() throws {
        let (r, w) = try makePipe()
        #expect(StreamKind.of(r) == .plain)
        let (a, _) = try Socket.pair()
        #expect(StreamKind.of(a) == .socket)

        // More than a pipe holds: the queue flushes in pieces.
        var rng = SystemRandomNumberGenerator()
        let payload = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let queue = WriteQueue()
        queue.enqueue(payload)
        let input = ReadBuffer()
        var alive = true
        let deadline = monotonicNow() + 10_000_000_000
        while input.count < payload.count && monotonicNow() < deadline {
            _ = try queue.flush(to: w, kind: .plain)
            alive = try input.fill(from: r, kind: .plain)
        }
        #expect(queue.isEmpty && queue.totalWritten == UInt64(payload.count))
        #expect(input.withUnconsumed { Array($0) } == payload)
        #expect(alive)
        w.close()
        #expect(try input.fill(from: r, kind: .plain) == false, "end of stream")

        // fds cannot travel over a plain stream.
        let (_, w2) = try makePipe()
        let withFd = WriteQueue()
        withFd.enqueue([1, 2, 3], fds: try makeMemfds(1))
        let e = systemError("flushing an fd to a pipe") { _ = try withFd.flush(to: w2, kind: .plain) }
        #expect(e?.code == EINVAL)
    }
}

/// A stand-in for a Firecracker-style VMM's hybrid-vsock unix socket, on its
/// own thread: it accepts one connection, reads the request line, then acts
/// out `behaviour`.
private final class FakeVMM: @unchecked Sendable {
    enum Behaviour: Sendable {
        /// Answer `OK 1073741824\n` plus `extra` in the same write, then echo
        /// everything back until the client closes.
        case ok(extra: [UInt8])
        /// Answer this text, then close.
        case answer(String)
        /// Close without answering.
        case close
        /// Never answer; wait for the client to go away.
        case silent
    }

    let path: String
    private let directory: TemporaryDirectory
    private let listener: OwnedFD
    private let done = DispatchSemaphore(value: 0)
    /// The line the client sent (read after `finish()`).
    private(set) var request = ""

    init(_ behaviour: Behaviour) throws {
        directory = try TemporaryDirectory()
        path = directory.file("vmm.sock")
        do { listener = try Socket.listen(.unix(path: path)) } catch { directory.remove(); throw error }
        let fd = listener.rawValue
        DispatchQueue.global().async { [self] in
            serve(listener: fd, behaviour)
            done.signal()
        }
    }

    private var finished = false

    /// Waits for the server thread, then removes the socket's directory. Idempotent.
    func finish() {
        guard !finished else { return }
        finished = true
        if done.wait(timeout: .now() + 20) == .timedOut { Issue.record("fake VMM thread still running") }
        listener.close()
        directory.remove()
    }

    private func serve(listener: Int32, _ behaviour: Behaviour) {
        guard waitFor(listener, timeoutMs: 10_000) else { return }
        let conn = accept(listener, nil, nil)
        guard conn >= 0 else { return }
        defer { close(conn) }
        var line: [UInt8] = []
        var b: UInt8 = 0
        while read(conn, &b, 1) == 1 {
            line.append(b)
            if b == UInt8(ascii: "\n") { break }
        }
        request = String(decoding: line, as: UTF8.self)
        switch behaviour {
        case .ok(let extra):
            writeBlocking(conn, Array("OK 1073741824\n".utf8) + extra)
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(conn, &buf, buf.count)
                guard n > 0 else { break }
                writeBlocking(conn, Array(buf[0..<n]))
            }
        case .answer(let text):
            writeBlocking(conn, Array(text.utf8))
        case .close:
            break
        case .silent:
            var buf = [UInt8](repeating: 0, count: 64)
            while read(conn, &buf, buf.count) > 0 {}
        }
    }

    private func writeBlocking(_ fd: Int32, _ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            guard n > 0 else { return }
            done += n
        }
    }
}

@Suite struct HybridVsockTests {
    @Test func sendsConnectWaitsForOKAndKeepsWhatFollows() throws {
        // Bytes the "guest" sent right behind the OK line must not be lost.
        let early: [UInt8] = Array("early bytes\n\0\u{1}".utf8)
        let vmm = try FakeVMM(.ok(extra: early))
        defer { vmm.finish() }
        let fd = try Socket.connect(.vsockMux(path: vmm.path, port: 1234))
        #expect(fcntl(fd.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(hasCloseOnExec(fd.rawValue))
        let input = ReadBuffer()
        let deadline = monotonicNow() + 5_000_000_000
        while input.count < early.count && monotonicNow() < deadline {
            _ = waitFor(fd.rawValue, timeoutMs: 100)
            _ = try input.fill(from: fd)
        }
        #expect(input.withUnconsumed { Array($0) } == early)
        input.consume(input.count)
        // Then the stream is the link: the VMM echoes.
        let ping: [UInt8] = [0x50, 0x48, 0x4C, 0x4B, 0, 255]
        #expect(try ping.withUnsafeBytes { try Socket.sendSome(fd, $0) } == .wrote(ping.count))
        while input.count < ping.count && monotonicNow() < deadline {
            _ = waitFor(fd.rawValue, timeoutMs: 100)
            _ = try input.fill(from: fd)
        }
        #expect(input.withUnconsumed { Array($0) } == ping)
        #expect(input.fds.isEmpty, "no fds come over the VMM stream")
        fd.close()
        vmm.finish()
        #expect(vmm.request == "CONNECT 1234\n")
    }

    @Test(arguments: ["ERR no listener on port 1234\n", "ok 5\n", "OKAY\n", "\n"])
    func anythingButOKIsAClearError(answer: String) throws {
        let vmm = try FakeVMM(.answer(answer))
        defer { vmm.finish() }
        let e = systemError("an answer of \(answer.debugDescription)") { _ = try Socket.connect(.vsockMux(path: vmm.path, port: 1234)) }
        #expect(e?.code == EPROTO)
        let shown = String(answer.dropLast())
        #expect(e?.description.contains("the VMM answered \"\(shown)\" to CONNECT 1234, expected \"OK <port>\"") == true,
                "\(String(describing: e))")
    }

    @Test func acceptsABareOKAndCRLF() throws {
        for answer in ["OK\n", "OK 52\r\n"] {
            let vmm = try FakeVMM(.answer(answer))
            defer { vmm.finish() }
            let fd = try Socket.connect(.vsockMux(path: vmm.path, port: 52))
            fd.close()
            vmm.finish()
            #expect(vmm.request == "CONNECT 52\n")
        }
    }

    @Test func aVMMThatClosesWithoutOKIsRefused() throws {
        let vmm = try FakeVMM(.close)
        defer { vmm.finish() }
        let e = systemError("VMM closes") { _ = try Socket.connect(.vsockMux(path: vmm.path, port: 77)) }
        #expect(e?.code == ECONNREFUSED)
        #expect(e?.description.contains("closed the connection without answering OK") == true, "\(String(describing: e))")
        #expect(e?.description.contains("port 77") == true, "\(String(describing: e))")
    }

    @Test func aSilentVMMTimesOut() throws {
        let vmm = try FakeVMM(.silent)
        defer { vmm.finish() }
        let start = monotonicNow()
        let e = systemError("VMM silent") { _ = try Socket.connect(.vsockMux(path: vmm.path, port: 9), timeout: 0.3) }
        #expect(seconds(since: start) < 2)
        #expect(e?.code == ETIMEDOUT)
        #expect(e?.description.contains("did not answer CONNECT 9 within 0.3 s") == true, "\(String(describing: e))")
    }

    @Test func anOverlongAnswerIsRefused() throws {
        let vmm = try FakeVMM(.answer(String(repeating: "O", count: 1000)))
        defer { vmm.finish() }
        let e = systemError("endless answer") { _ = try Socket.connect(.vsockMux(path: vmm.path, port: 9)) }
        #expect(e?.code == EPROTO)
        #expect(e?.description.contains("longer than 256 bytes") == true, "\(String(describing: e))")
    }

    @Test func noVMMListeningIsAConnectError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("absent.sock")
        let e = systemError("no VMM") { _ = try Socket.connect(.vsockMux(path: path, port: 9)) }
        #expect(e?.code == ENOENT)
        #expect(e?.description.hasPrefix("connect vsock-mux:\(path):9") == true, "\(String(describing: e))")
    }
}

@Suite struct PendingConnectTests {
    @Test func connectsToAUnixListenerOnTheLoop() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("sock")
        let listener = try Socket.listen(.unix(path: path))
        let loop = try EventLoop()
        var result: Result<OwnedFD, SystemError>?
        let pending = PendingConnect(to: .unix(path: path), loop: loop) { result = $0 }
        #expect(try runLoop(loop) { result != nil })
        #expect(pending.isFinished)
        let fd = try #require(try result?.get())
        #expect(try Socket.accept(listener) != nil)
        // The caller can register the descriptor: the attempt left no registration.
        let token = try loop.register(fd.rawValue, events: .readable) { _ in }
        loop.unregister(token)
    }

    @Test func reportsAMissingSocket() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("sock")
        let loop = try EventLoop()
        var result: Result<OwnedFD, SystemError>?
        _ = PendingConnect(to: .unix(path: path), loop: loop) { result = $0 }
        #expect(try runLoop(loop) { result != nil })
        guard case .failure(let e) = result else { Issue.record("expected a failure"); return }
        #expect(e.code == ENOENT)
        #expect(e.description.hasPrefix("connect unix:\(path)"), "\(e)")
    }

    @Test func givesUpAtTheDeadline() throws {
        let vmm = try FakeVMM(.silent)
        defer { vmm.finish() }
        let loop = try EventLoop()
        var result: Result<OwnedFD, SystemError>?
        let start = monotonicNow()
        _ = PendingConnect(to: .vsockMux(path: vmm.path, port: 3), loop: loop, timeout: 0.2) { result = $0 }
        #expect(try runLoop(loop) { result != nil })
        let elapsed = seconds(since: start)
        #expect(elapsed >= 0.15 && elapsed < 2, "\(elapsed) s")
        guard case .failure(let e) = result else { Issue.record("expected a failure"); return }
        #expect(e.code == ETIMEDOUT)
        #expect(e.description.contains("did not answer CONNECT 3 within 0.2 s"), "\(e)")
    }

    @Test func cancelMeansNoCompletion() throws {
        let vmm = try FakeVMM(.silent)
        defer { vmm.finish() }
        let loop = try EventLoop()
        var called = false
        let pending = PendingConnect(to: .vsockMux(path: vmm.path, port: 3), loop: loop, timeout: 0.2) { _ in called = true }
        try loop.addTimer(nanoseconds: 50_000_000, repeating: false) { pending.cancel() }
        try loop.addTimer(nanoseconds: 400_000_000, repeating: false) { [unowned loop] in loop.stop() }
        try runLoop(loop)
        #expect(!called)
        #expect(pending.isFinished)
    }

    @Test func hybridVsockOnTheLoop() throws {
        let vmm = try FakeVMM(.ok(extra: [7, 8, 9]))
        defer { vmm.finish() }
        let loop = try EventLoop()
        var result: Result<OwnedFD, SystemError>?
        _ = PendingConnect(to: .vsockMux(path: vmm.path, port: 4000), loop: loop) { result = $0 }
        #expect(try runLoop(loop) { result != nil })
        let fd = try #require(try result?.get())
        let input = ReadBuffer()
        #expect(waitFor(fd.rawValue))
        _ = try input.fill(from: fd)
        #expect(input.withUnconsumed { Array($0) } == [7, 8, 9])
        fd.close()
        vmm.finish()
        #expect(vmm.request == "CONNECT 4000\n")
    }
}
