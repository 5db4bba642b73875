import CPorthole
import Glibc

/// Stream sockets: listen, accept, connect, and sending/receiving bytes with
/// file descriptors (SCM_RIGHTS). Every descriptor returned is close-on-exec.
public enum Socket {
    /// Most fds attached to one sendmsg, as libwayland expects.
    public static let maxFdsPerMessage = Int(PORTHOLE_MAX_FDS_PER_MSG)

    /// How long a connect to a tcp:, vsock: or vsock-mux: address may take.
    public static let connectTimeout: Double = 10

    /// Creates a listening socket. A stale unix socket file (nobody accepting)
    /// is replaced. `vsock-mux:` and `file:` addresses cannot be listened on.
    public static func listen(_ address: SocketAddress, backlog: Int32 = 64) throws(SystemError) -> OwnedFD {
        switch address {
        case .vsock(let cid, let port):
            let fd = OwnedFD(try syscall("socket AF_VSOCK (is the vsock module loaded?)") {
                socket(AF_VSOCK, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            })
            let sa = vsockAddressBytes(cid: cid, port: port)
            try syscall("bind \(address)") {
                sa.withUnsafeBytes { p in bind(fd.rawValue, p.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(p.count)) }
            }
            try syscall("listen \(address)") { Glibc.listen(fd.rawValue, backlog) }
            try fd.setNonBlocking()
            return fd
        case .vsockMux:
            throw SystemError("listen \(address): a hybrid-vsock VMM socket can only be connected to (listen on vsock:any:PORT in the guest instead)", code: EINVAL)
        case .file:
            throw SystemError("listen \(address): a device is opened, not listened on (use --connect \(address) on both sides)", code: EINVAL)
        case .unix(let path):
            let fd = OwnedFD(try syscall("socket AF_UNIX") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
            var st = stat()
            if lstat(path, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw SystemError("listen \(address): path exists and is not a socket", code: EEXIST) }
                if (try? connect(address)) != nil { throw SystemError("listen \(address): address in use", code: EADDRINUSE) }
                unlink(path)
            }
            // Bound under a temporary name and renamed once listening: a
            // client that sees the path never finds it refusing connections
            // (between bind and listen it would get ECONNREFUSED).
            let staging = path + ".\(getpid())~"
            let bindPath = staging.utf8.count < 108 ? staging : path
            unlink(staging)
            _ = try withUnixAddress(bindPath) { (sa, len) throws(SystemError) in
                try syscall("bind \(address)") { bind(fd.rawValue, sa, len) }
            }
            do {
                try syscall("listen \(address)") { Glibc.listen(fd.rawValue, backlog) }
                if bindPath != path { try syscall("rename \(bindPath) to \(path)") { rename(bindPath, path) } }
            } catch {
                if bindPath != path { unlink(bindPath) }
                throw error
            }
            try fd.setNonBlocking()
            return fd
        case .tcp(let host, let port):
            var lastError = SystemError("resolve \(host)", code: EADDRNOTAVAIL)
            for ai in try resolve(host: host, port: port, passive: true) {
                guard let raw = try? syscall("socket", { socket(ai.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }) else { continue }
                let fd = OwnedFD(raw)
                var one: Int32 = 1
                setsockopt(raw, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                do {
                    _ = try ai.address.withUnsafeBytes { (p: UnsafeRawBufferPointer) throws(SystemError) in
                        try syscall("bind \(address)") { bind(raw, p.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(p.count)) }
                    }
                    try syscall("listen \(address)") { Glibc.listen(raw, backlog) }
                    try fd.setNonBlocking()
                    return fd
                } catch { lastError = (error as? SystemError) ?? lastError }
            }
            throw lastError
        }
    }

    /// Connects and returns a non-blocking descriptor. `unix:` connects
    /// blocking, as before; the other forms run a `ConnectAttempt` that gives
    /// up with ETIMEDOUT after `timeout` seconds. `file:` opens the device.
    public static func connect(_ address: SocketAddress, timeout: Double = connectTimeout) throws(SystemError) -> OwnedFD {
        switch address {
        case .vsock, .vsockMux, .file, .tcp:
            let attempt = ConnectAttempt(address)
            let deadline = monotonicSeconds() + timeout
            while true {
                switch try attempt.advance() {
                case .done(let fd):
                    return fd
                case .wait(let fd, let events):
                    let left = deadline - monotonicSeconds()
                    guard left > 0 else { throw attempt.timeoutError(seconds: timeout) }
                    var p = pollfd(fd: fd, events: Int16(events.contains(.writable) ? POLLOUT : POLLIN), revents: 0)
                    let r = poll(&p, 1, Int32(min(left * 1000 + 1, Double(Int32.max))))
                    if r == 0 { throw attempt.timeoutError(seconds: timeout) }
                    if r < 0 && errno != EINTR { throw SystemError("poll while connecting to \(address)") }
                }
            }
        case .unix(let path):
            let fd = OwnedFD(try syscall("socket AF_UNIX") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
            _ = try withUnixAddress(path) { (sa, len) throws(SystemError) in
                try syscall("connect \(address)") { Glibc.connect(fd.rawValue, sa, len) }
            }
            try fd.setNonBlocking()
            return fd
        }
    }

    /// Accepts one pending connection, or returns nil when none is waiting.
    /// Waits until `socket` has something to read (or hung up), at most
    /// `timeout` seconds; false when the time ran out.
    public static func waitReadable(_ socket: OwnedFD, timeout: Double) throws(SystemError) -> Bool {
        var p = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
        let n = try syscall("poll fd \(socket.rawValue)") { poll(&p, 1, Int32(max(0, min(timeout, 3600)) * 1000)) }
        return n > 0
    }

    public static func accept(_ listener: OwnedFD) throws(SystemError) -> OwnedFD? {
        while true {
            let r = porthole_accept(listener.rawValue)
            if r >= 0 {
                var one: Int32 = 1
                setsockopt(r, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return OwnedFD(r)
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED { return nil }
            throw SystemError("accept")
        }
    }

    /// A connected pair of unix stream sockets (non-blocking, close-on-exec).
    public static func pair() throws(SystemError) -> (OwnedFD, OwnedFD) {
        var fds: [Int32] = [-1, -1]
        try syscall("socketpair") { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) }
        return (OwnedFD(fds[0]), OwnedFD(fds[1]))
    }

    /// Whether the socket is TCP/IP (SO_DOMAIN AF_INET or AF_INET6), not
    /// within the machine (unix, vsock).
    public static func isNetwork(_ socket: OwnedFD) -> Bool {
        var domain: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(socket.rawValue, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 else { return false }
        return domain == AF_INET || domain == AF_INET6
    }

    /// Asks for socket buffers of `bytes` each way (the kernel caps them at
    /// net.core.wmem_max and rmem_max). Best effort; false if refused.
    @discardableResult
    public static func setBufferSizes(_ socket: OwnedFD, bytes: Int32) -> Bool {
        var size = bytes
        let len = socklen_t(MemoryLayout<Int32>.size)
        let a = setsockopt(socket.rawValue, SOL_SOCKET, SO_SNDBUF, &size, len)
        let b = setsockopt(socket.rawValue, SOL_SOCKET, SO_RCVBUF, &size, len)
        return a == 0 && b == 0
    }

    /// One sendmsg of the buffers of `iov`, in order, with at most 28 fds
    /// attached to its first byte. MSG_NOSIGNAL: a peer that went away is
    /// EPIPE, thrown, not SIGPIPE. How many bytes were taken, or
    /// `.wouldBlock`; interrupted calls are retried.
    public static func sendSome(_ socket: OwnedFD, gathering iov: UnsafeBufferPointer<iovec>, fds: [Int32] = []) throws(SystemError) -> WriteOutcome {
        precondition(fds.count <= maxFdsPerMessage)
        let raw = socket.rawValue
        return try WriteOutcome.retrying("sendmsg on fd \(raw)") {
            fds.withUnsafeBufferPointer { f in porthole_sendmsg(raw, iov.baseAddress, Int32(iov.count), f.baseAddress, Int32(f.count)) }
        }
    }

    /// One sendmsg of `bytes` with at most 28 fds attached.
    public static func sendSome(_ socket: OwnedFD, _ bytes: UnsafeRawBufferPointer, fds: [Int32] = []) throws(SystemError) -> WriteOutcome {
        let one = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
        return try withUnsafePointer(to: one) { (p) throws(SystemError) -> WriteOutcome in
            try sendSome(socket, gathering: UnsafeBufferPointer(start: p, count: 1), fds: fds)
        }
    }

    /// `sendSome` as a count: bytes sent, 0 when the socket would block.
    /// Kept for callers that only add up bytes (the integration tests'
    /// clients, the guest's best-effort refusal); new code uses `sendSome`.
    public static func send(_ socket: OwnedFD, _ bytes: UnsafeRawBufferPointer, fds: [Int32]) throws(SystemError) -> Int {
        guard case .wrote(let n) = try sendSome(socket, bytes, fds: fds) else { return 0 }
        return n
    }

    /// Receives into `buffer`, appending any fds to `fds`. A truncated control
    /// message (fds lost) is an error: the stream can no longer be trusted.
    /// A connection reset by the peer is the end of the stream.
    public static func receive(_ socket: OwnedFD, into buffer: UnsafeMutableRawBufferPointer, fds: inout [OwnedFD]) throws(SystemError) -> Received {
        var raw = [Int32](repeating: -1, count: maxFdsPerMessage)
        let s = socket.rawValue
        return try Received.retrying("recvmsg on fd \(s)", endOfStreamOn: ECONNRESET) { () throws(SystemError) -> Int in
            var count: Int32 = 0
            var truncated: Int32 = 0
            let n = raw.withUnsafeMutableBufferPointer { r in
                porthole_recv_with_fds(s, buffer.baseAddress, buffer.count, r.baseAddress, Int32(r.count), &count, &truncated)
            }
            let code = errno
            for i in 0..<Int(count) { fds.append(OwnedFD(raw[i])) }
            if truncated != 0 { throw SystemError("recvmsg on fd \(s): control data truncated (fds lost)", code: EMSGSIZE) }
            errno = code // taking the fds may have changed it
            return n
        }
    }

    /// Copies what `socket` holds into `buffer` without taking it (a later
    /// receive gets the same bytes). Never waits; fds are not taken either.
    public static func peek(_ socket: OwnedFD, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Received {
        let s = socket.rawValue
        return try Received.retrying("recv (peek) on fd \(s)", endOfStreamOn: ECONNRESET) { () -> Int in
            recv(s, buffer.baseAddress, buffer.count, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        }
    }

    /// What `waitReadable(_:unless:timeout:)` or `waitWritable` saw first.
    public enum Readiness: Equatable, Sendable {
        /// Ready for what was asked (read, or write).
        case ready
        case cancelled
        case timedOut
    }

    /// Waits until `socket` has something to read (or hung up), `cancel`
    /// was signalled (which wins when both are), or `timeout` seconds passed
    /// (negative: no limit).
    public static func waitReadable(_ socket: OwnedFD, unless cancel: EventSignal, timeout: Double) throws(SystemError) -> Readiness {
        try wait(socket, for: POLLIN, unless: cancel, timeout: timeout)
    }

    /// The same for room to write (or an error or hangup: the write says which).
    public static func waitWritable(_ socket: OwnedFD, unless cancel: EventSignal, timeout: Double) throws(SystemError) -> Readiness {
        try wait(socket, for: POLLOUT, unless: cancel, timeout: timeout)
    }

    private static func wait(_ socket: OwnedFD, for events: Int32, unless cancel: EventSignal, timeout: Double) throws(SystemError) -> Readiness {
        var p = [pollfd(fd: socket.rawValue, events: Int16(events), revents: 0),
                 pollfd(fd: cancel.rawValue, events: Int16(POLLIN), revents: 0)]
        let ms: Int32 = timeout < 0 ? -1 : Int32(min(timeout, 3600) * 1000)
        let n = try syscall("poll fd \(socket.rawValue)") { poll(&p, 2, ms) }
        if n == 0 { return .timedOut }
        if p[1].revents != 0 { return .cancelled }
        return .ready
    }

    struct Resolved { var family: Int32; var address: [UInt8] }

    static func resolve(host: String, port: UInt16, passive: Bool) throws(SystemError) -> [Resolved] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        if passive { hints.ai_flags = AI_PASSIVE }
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw SystemError("resolve \(host): \(String(cString: gai_strerror(rc)))", code: EADDRNOTAVAIL)
        }
        defer { freeaddrinfo(first) }
        var out: [Resolved] = []
        var cur: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cur {
            let bytes = UnsafeRawBufferPointer(start: ai.pointee.ai_addr, count: Int(ai.pointee.ai_addrlen))
            out.append(Resolved(family: ai.pointee.ai_family, address: Array(bytes)))
            cur = ai.pointee.ai_next
        }
        return out
    }

    /// A sockaddr_un for `path`, as bytes.
    static func unixAddressBytes(_ path: String) throws(SystemError) -> [UInt8] {
        try withUnixAddress(path) { (sa, len) in Array(UnsafeRawBufferPointer(start: sa, count: Int(len))) }
    }

    /// A sockaddr_vm for `cid` and `port`, as bytes.
    static func vsockAddressBytes(cid: UInt32, port: UInt32) -> [UInt8] {
        var sa = sockaddr_vm()
        sa.svm_family = sa_family_t(AF_VSOCK)
        sa.svm_cid = cid
        sa.svm_port = port
        return withUnsafeBytes(of: &sa) { Array($0) }
    }

    private static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private static func withUnixAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> R) throws(SystemError) -> R {
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: sa.sun_path) else { throw SystemError("unix path too long: \(path)", code: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &sa.sun_path) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
            dst[bytes.count] = 0
        }
        return try withUnsafePointer(to: &sa) { (p) throws(SystemError) -> R in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sp) throws(SystemError) -> R in
                try body(sp, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}

extension Socket {
    /// The program name (/proc/PID/comm) of a unix socket's peer, if known.
    public static func peerProgramName(_ socket: OwnedFD) -> String? {
        let pid = porthole_peer_pid(socket.rawValue)
        guard pid > 0, let f = fopen("/proc/\(pid)/comm", "r") else { return nil }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), f) != nil else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }
}
