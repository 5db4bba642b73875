import CPorthole
import Glibc

/// One attempt to reach a link address that never blocks (name resolution
/// aside). The caller runs `advance()`; while it answers `.wait`, the caller
/// waits until that descriptor is ready for those events and calls it again.
/// `Socket.connect` drives it with poll(2), `PendingConnect` with an
/// `EventLoop`; both give up at a deadline (`timeoutError`).
///
/// - `tcp:` tries each resolved address in turn (TCP_NODELAY is set);
/// - `vsock:` is an AF_VSOCK stream connect;
/// - `vsock-mux:` connects to the VMM's unix socket, writes `CONNECT PORT\n`
///   and reads one line, which must be `OK` (optionally followed by a space
///   and anything, such as the port the VMM assigned). Nothing after that
///   line is read, so the link's first bytes are never lost;
/// - `file:` opens a character device read-write (a tty is put in raw mode);
/// - `unix:` connects without waiting (a full backlog is an EAGAIN failure).
///
/// Descriptors returned are non-blocking and close-on-exec.
public final class ConnectAttempt {
    /// What the caller does next.
    public enum Step {
        /// Wait until `fd` is ready for `events` (or errors), then call `advance()`.
        case wait(fd: Int32, events: EventLoop.Events)
        /// Connected: the stream to use as the link.
        case done(OwnedFD)
    }

    public let address: SocketAddress

    private enum State {
        case start
        case nextCandidate
        case connecting(OwnedFD)
        case sendingRequest(OwnedFD, sent: Int)
        case readingReply(OwnedFD, VsockMuxReply)
        case finished
    }

    private var state = State.start
    private var candidates: [(family: Int32, address: [UInt8])] = []
    private var lastError: SystemError?

    public init(_ address: SocketAddress) {
        self.address = address
    }

    /// The error for an attempt that ran out of time, saying at which stage.
    public func timeoutError(seconds: Double) -> SystemError {
        let time = seconds == seconds.rounded() ? "\(Int(seconds))" : "\(seconds)"
        switch (state, address) {
        case (.sendingRequest, .vsockMux(let path, let port)), (.readingReply, .vsockMux(let path, let port)):
            return SystemError("\(address): the VMM at \(path) did not answer CONNECT \(port) within \(time) s", code: ETIMEDOUT)
        default:
            return SystemError("connect \(address): no connection within \(time) s", code: ETIMEDOUT)
        }
    }

    /// Gives up: closes whatever the attempt holds open.
    public func abandon() { state = .finished }

    /// Moves the attempt on as far as it goes without blocking.
    public func advance() throws(SystemError) -> Step {
        while true {
            switch state {
            case .start:
                guard address.canConnect else {
                    throw SystemError("connect \(address): CID 'any' can only be listened on; give the peer's CID", code: EINVAL)
                }
                if case .file(let path) = address {
                    state = .finished
                    return .done(try Self.openDevice(path))
                }
                candidates = try Self.candidates(for: address)
                state = .nextCandidate

            case .nextCandidate:
                guard !candidates.isEmpty else {
                    state = .finished
                    throw lastError ?? SystemError("connect \(address)", code: EADDRNOTAVAIL)
                }
                let c = candidates.removeFirst()
                let fd: OwnedFD
                do {
                    fd = OwnedFD(try syscall("socket for \(address)") {
                        socket(c.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                    })
                } catch {
                    lastError = c.family == AF_VSOCK && error.code == EAFNOSUPPORT
                        ? SystemError("socket AF_VSOCK (is the vsock module loaded?)", code: error.code) : error
                    continue
                }
                let r = c.address.withUnsafeBytes { p in
                    Glibc.connect(fd.rawValue, p.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(p.count))
                }
                if r == 0 {
                    if let done = connected(fd) { return .done(done) }
                } else if errno == EINPROGRESS || errno == EINTR {
                    state = .connecting(fd)
                    return .wait(fd: fd.rawValue, events: .writable)
                } else {
                    lastError = SystemError("connect \(address)")
                }

            case .connecting(let fd):
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                if getsockopt(fd.rawValue, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { err = errno }
                if err == 0 {
                    if let done = connected(fd) { return .done(done) }
                } else if err == EINPROGRESS || err == EALREADY {
                    return .wait(fd: fd.rawValue, events: .writable)
                } else {
                    lastError = SystemError("connect \(address)", code: err)
                    state = .nextCandidate
                }

            case .sendingRequest(let fd, let sent):
                let request = requestLine
                let outcome: WriteOutcome
                do {
                    outcome = try request.withUnsafeBytes { b in
                        Result { () throws(SystemError) -> WriteOutcome in try Socket.sendSome(fd, UnsafeRawBufferPointer(rebasing: b[sent...])) }
                    }.get()
                } catch {
                    state = .finished
                    throw SystemError("\(address): sending CONNECT to the VMM", code: error.code)
                }
                guard case .wrote(let n) = outcome else { return .wait(fd: fd.rawValue, events: .writable) }
                state = sent + n == request.count ? .readingReply(fd, VsockMuxReply()) : .sendingRequest(fd, sent: sent + n)

            case .readingReply(let fd, var reply):
                // Peek, then take only up to the newline: whatever follows
                // belongs to the link.
                var buf = [UInt8](repeating: 0, count: VsockMuxReply.maxLine)
                let peeked = buf.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_PEEK | MSG_DONTWAIT)) }
                if peeked < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                        return .wait(fd: fd.rawValue, events: .readable)
                    }
                    state = .finished
                    throw SystemError("\(address): reading the VMM's answer")
                }
                if peeked == 0 {
                    state = .finished
                    throw SystemError(
                        "\(address): the VMM closed the connection without answering OK (is anything listening on the guest's vsock port \(muxPort)?)",
                        code: ECONNREFUSED)
                }
                let (take, outcome) = buf.withUnsafeBytes { reply.feed(UnsafeRawBufferPointer(rebasing: $0[0..<peeked])) }
                let got = buf.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, take, Int32(MSG_DONTWAIT)) }
                guard got == take else {
                    state = .finished
                    throw SystemError("\(address): reading the VMM's answer", code: got < 0 ? errno : EIO)
                }
                switch outcome {
                case .needMore:
                    state = .readingReply(fd, reply)
                    continue
                case .tooLong:
                    state = .finished
                    throw SystemError("\(address): the VMM's answer to CONNECT is longer than \(VsockMuxReply.maxLine) bytes", code: EPROTO)
                case .refused(let text):
                    state = .finished
                    throw SystemError("\(address): the VMM answered \(text) to CONNECT \(muxPort), expected \"OK <port>\"", code: EPROTO)
                case .accepted:
                    state = .finished
                }
                return .done(fd)

            case .finished:
                throw SystemError("connect \(address): attempt already finished", code: EINVAL)
            }
        }
    }

    /// The socket is connected: returns it, or nil when a handshake follows.
    private func connected(_ fd: OwnedFD) -> OwnedFD? {
        switch address {
        case .vsockMux:
            state = .sendingRequest(fd, sent: 0)
            return nil
        case .tcp:
            var one: Int32 = 1
            setsockopt(fd.rawValue, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        default:
            break
        }
        state = .finished
        return fd
    }

    private var muxPort: UInt32 {
        if case .vsockMux(_, let port) = address { return port }
        return 0
    }

    private var requestLine: [UInt8] { Array("CONNECT \(muxPort)\n".utf8) }

    /// The socket addresses to try, in order.
    private static func candidates(for address: SocketAddress) throws(SystemError) -> [(family: Int32, address: [UInt8])] {
        switch address {
        case .unix(let path), .vsockMux(let path, _):
            return [(AF_UNIX, try Socket.unixAddressBytes(path))]
        case .tcp(let host, let port):
            return try Socket.resolve(host: host, port: port, passive: false).map { ($0.family, $0.address) }
        case .vsock(let cid, let port):
            return [(AF_VSOCK, Socket.vsockAddressBytes(cid: cid, port: port))]
        case .file:
            return []
        }
    }

    /// Opens a character device as a link stream. A tty is switched to raw
    /// mode so that its line discipline leaves the bytes alone.
    static func openDevice(_ path: String) throws(SystemError) -> OwnedFD {
        let fd = OwnedFD(try syscall("open file:\(path)") { open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) })
        var st = stat()
        try syscall("fstat file:\(path)") { fstat(fd.rawValue, &st) }
        guard (st.st_mode & S_IFMT) == S_IFCHR else {
            throw SystemError("file:\(path) is not a character device (use unix: for sockets)", code: ENODEV)
        }
        if isatty(fd.rawValue) == 1 {
            var tio = termios()
            try syscall("tcgetattr file:\(path)") { tcgetattr(fd.rawValue, &tio) }
            cfmakeraw(&tio)
            try syscall("tcsetattr file:\(path)") { tcsetattr(fd.rawValue, TCSANOW, &tio) }
        }
        return fd
    }
}
