import Glibc
import PortholeSystem
import SystemTestSupport
import Testing

/// Receives until `count` bytes arrived (or a deadline passes), collecting fds.
private func receiveAll(_ socket: OwnedFD, count: Int, fds: inout [OwnedFD]) throws -> [UInt8] {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    let deadline = monotonicNow() + 5_000_000_000
    while out.count < count && monotonicNow() < deadline {
        let r = try buf.withUnsafeMutableBytes { b in
            try Socket.receive(socket, into: UnsafeMutableRawBufferPointer(rebasing: b[0..<min(b.count, count - out.count)]), fds: &fds)
        }
        switch r {
        case .bytes(let n): out += buf[0..<n]
        case .wouldBlock: _ = waitFor(socket.rawValue, timeoutMs: 100)
        case .endOfStream: return out
        }
    }
    return out
}

@Suite struct SocketPairTests {
    @Test func pairIsConnectedNonBlockingAndCloseOnExec() throws {
        let (a, b) = try Socket.pair()
        for fd in [a, b] {
            #expect(hasCloseOnExec(fd.rawValue))
            #expect(fcntl(fd.rawValue, F_GETFL) & O_NONBLOCK != 0)
        }
        var fds: [OwnedFD] = []
        var buf = [UInt8](repeating: 0, count: 16)
        let empty = try buf.withUnsafeMutableBytes { try Socket.receive(b, into: $0, fds: &fds) }
        guard case .wouldBlock = empty else { Issue.record("expected wouldBlock, got \(empty)"); return }

        let msg: [UInt8] = [1, 2, 3, 4, 5]
        #expect(try msg.withUnsafeBytes { try Socket.sendSome(a, $0) } == .wrote(5))
        #expect(try receiveAll(b, count: 5, fds: &fds) == msg)
        #expect(fds.isEmpty)

        // And the other direction.
        #expect(try msg.withUnsafeBytes { try Socket.sendSome(b, $0) } == .wrote(5))
        #expect(try receiveAll(a, count: 5, fds: &fds) == msg)
    }

    @Test(arguments: [1, 3, 28])
    func sendAndReceiveFds(count: Int) throws {
        let (a, b) = try Socket.pair()
        let files = try makeMemfds(count, name: "pass")
        let ids = files.map { identity(of: $0.rawValue)! }
        #expect(Set(ids).count == count)
        let payload: [UInt8] = Array(0..<100)
        let sent = try payload.withUnsafeBytes { try Socket.sendSome(a, $0, fds: files.map(\.rawValue)) }
        #expect(sent == .wrote(100))
        // The sender keeps its own descriptors.
        #expect(files.allSatisfy { isOpenDescriptor($0.rawValue) })

        var fds: [OwnedFD] = []
        #expect(try receiveAll(b, count: 100, fds: &fds) == payload)
        try #require(fds.count == count)
        #expect(fds.map { identity(of: $0.rawValue)! } == ids, "fds arrive in the order they were sent")
        #expect(fds.allSatisfy { hasCloseOnExec($0.rawValue) }, "received fds are close-on-exec")
        #expect(Set(fds.map(\.rawValue)).isDisjoint(with: files.map(\.rawValue)))
        // Each received fd is the memfd we sent (its content is its index).
        for (i, fd) in fds.enumerated() {
            var b: UInt8 = 0xFF
            #expect(pread(fd.rawValue, &b, 1, 0) == 1)
            #expect(b == UInt8(i))
        }
    }

    @Test func sendToAClosedPeerThrowsEPIPEWithoutSignal() throws {
        let (a, b) = try Socket.pair()
        b.close()
        let msg: [UInt8] = [1]
        do {
            _ = try msg.withUnsafeBytes { try Socket.sendSome(a, $0) }
            Issue.record("send to a closed peer should fail")
        } catch let error as SystemError {
            #expect(error.code == EPIPE)
        }
        a.close()
    }

    @Test func receiveReportsEndOfStream() throws {
        let (a, b) = try Socket.pair()
        let msg: [UInt8] = [9, 9]
        _ = try msg.withUnsafeBytes { try Socket.sendSome(a, $0) }
        a.close()
        var fds: [OwnedFD] = []
        #expect(try receiveAll(b, count: 2, fds: &fds) == msg)
        var buf = [UInt8](repeating: 0, count: 8)
        let r = try buf.withUnsafeMutableBytes { try Socket.receive(b, into: $0, fds: &fds) }
        guard case .endOfStream = r else { Issue.record("expected endOfStream, got \(r)"); return }
    }

    /// Sends `fds` with one byte through a raw sendmsg, bypassing Socket.send's
    /// 28-fd limit.
    private func rawSend(_ socket: Int32, byte: UInt8, fds: [Int32]) -> Int {
        let header = MemoryLayout<cmsghdr>.size
        let dataLength = fds.count * MemoryLayout<Int32>.size
        let space = header + ((dataLength + 7) & ~7)
        var control = [UInt8](repeating: 0, count: space)
        control.withUnsafeMutableBytes { raw in
            let c = raw.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
            c.pointee.cmsg_len = header + dataLength
            c.pointee.cmsg_level = SOL_SOCKET
            c.pointee.cmsg_type = 1 // SCM_RIGHTS
            fds.withUnsafeBytes { src in (raw.baseAddress! + header).copyMemory(from: src.baseAddress!, byteCount: dataLength) }
        }
        var b = byte
        return withUnsafeMutablePointer(to: &b) { bp in
            var iov = iovec(iov_base: UnsafeMutableRawPointer(bp), iov_len: 1)
            return withUnsafeMutablePointer(to: &iov) { iovp in
                control.withUnsafeMutableBytes { cp in
                    var msg = msghdr()
                    msg.msg_iov = iovp
                    msg.msg_iovlen = 1
                    msg.msg_control = cp.baseAddress
                    msg.msg_controllen = cp.count
                    return sendmsg(socket, &msg, Int32(MSG_NOSIGNAL))
                }
            }
        }
    }

    @Test func moreFdsThanFitAreReportedAsTruncation() throws {
        let (a, b) = try Socket.pair()
        let files = try makeMemfds(30, name: "ctrunc")
        #expect(rawSend(a.rawValue, byte: 0x77, fds: files.map(\.rawValue)) == 1)
        var fds: [OwnedFD] = []
        var buf = [UInt8](repeating: 0, count: 16)
        do {
            _ = try buf.withUnsafeMutableBytes { try Socket.receive(b, into: $0, fds: &fds) }
            Issue.record("receiving 30 fds into room for 28 must be an error")
        } catch let error as SystemError {
            #expect(error.code == EMSGSIZE)
        }
        // The fds that did fit are handed over (owned, so they get closed) in order.
        #expect(fds.count == Socket.maxFdsPerMessage)
        #expect(fds.map { identity(of: $0.rawValue)! } == files.prefix(fds.count).map { identity(of: $0.rawValue)! })
    }

    @Test func twentyEightFdsFromARawSendAllArrive() throws {
        let (a, b) = try Socket.pair()
        let files = try makeMemfds(28, name: "raw28")
        #expect(rawSend(a.rawValue, byte: 0x55, fds: files.map(\.rawValue)) == 1)
        var fds: [OwnedFD] = []
        #expect(try receiveAll(b, count: 1, fds: &fds) == [0x55])
        #expect(fds.map { identity(of: $0.rawValue)! } == files.map { identity(of: $0.rawValue)! })
    }

    @Test func readBufferFillCollectsBytesAndFds() throws {
        let (a, b) = try Socket.pair()
        let files = try makeMemfds(5, name: "rb")
        let payload = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        _ = try payload.withUnsafeBytes { try Socket.sendSome(a, UnsafeRawBufferPointer(rebasing: $0[0..<100]), fds: files[0..<2].map(\.rawValue)) }
        _ = try payload.withUnsafeBytes { try Socket.sendSome(a, UnsafeRawBufferPointer(rebasing: $0[100..<300]), fds: files[2..<5].map(\.rawValue)) }
        let rb = ReadBuffer()
        var alive = true
        let deadline = monotonicNow() + 2_000_000_000
        while rb.count < 300 && monotonicNow() < deadline {
            _ = waitFor(b.rawValue, timeoutMs: 100)
            alive = try rb.fill(from: b)
        }
        #expect(alive)
        #expect(rb.count == 300)
        #expect(rb.withUnconsumed { Array($0) } == payload)
        #expect(rb.fds.map { identity(of: $0.rawValue)! } == files.map { identity(of: $0.rawValue)! })
        #expect(rb.takeFds(6) == nil)
        let first = try #require(rb.takeFds(2))
        #expect(first.map { identity(of: $0.rawValue)! } == files[0..<2].map { identity(of: $0.rawValue)! })
        #expect(rb.fds.count == 3)
        rb.consume(250)
        #expect(rb.count == 50)
        #expect(rb.withUnconsumed { Array($0) } == Array(payload[250...]))
        rb.consume(50)
        #expect(rb.count == 0)
        a.close()
        _ = waitFor(b.rawValue)
        #expect(try rb.fill(from: b) == false, "fill reports end of stream")
    }

    @Test func readBufferFillRespectsItsLimit() throws {
        let (a, b) = try Socket.pair()
        let payload = [UInt8](repeating: 3, count: 100_000)
        writeAll(a.rawValue, Array(payload[0..<60_000]))
        let rb = ReadBuffer()
        _ = waitFor(b.rawValue)
        #expect(try rb.fill(from: b, limit: 1000))
        #expect(rb.count == 1000)
    }
}

@Suite struct ListenConnectTests {
    @Test func unixListenConnectAccept() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("sock")
        let listener = try Socket.listen(.unix(path: path))
        #expect(fcntl(listener.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(try Socket.accept(listener) == nil, "no connection is pending yet")

        let client = try Socket.connect(.unix(path: path))
        #expect(fcntl(client.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(hasCloseOnExec(client.rawValue))
        #expect(waitFor(listener.rawValue))
        let server = try #require(try Socket.accept(listener))
        #expect(fcntl(server.rawValue, F_GETFL) & O_NONBLOCK != 0)
        #expect(hasCloseOnExec(server.rawValue))

        try exchange(client, server)
        // Fds pass over an accepted unix socket too.
        let memfd = try Memfd.create(name: "over-unix", size: 1)
        let one: [UInt8] = [42]
        #expect(try one.withUnsafeBytes { try Socket.sendSome(client, $0, fds: [memfd.rawValue]) } == .wrote(1))
        var fds: [OwnedFD] = []
        #expect(try receiveAll(server, count: 1, fds: &fds) == one)
        #expect(fds.map { identity(of: $0.rawValue) } == [identity(of: memfd.rawValue)])
    }

    @Test func staleUnixSocketFileIsReplacedButALiveOneIsNot() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("sock")
        var first: OwnedFD? = try Socket.listen(.unix(path: path))
        #expect(first != nil)
        // A live listener: a second listen must fail instead of stealing the path.
        do {
            _ = try Socket.listen(.unix(path: path))
            Issue.record("listening on a live socket path should fail")
        } catch {
            #expect(error.code == EADDRINUSE)
        }
        first = nil // closed, but the file stays behind
        #expect(access(path, F_OK) == 0)
        let second = try Socket.listen(.unix(path: path))
        _ = try Socket.connect(.unix(path: path))
        #expect(waitFor(second.rawValue))
        #expect(try Socket.accept(second) != nil)
    }

    @Test func connectToNothingFails() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("sock")
        do {
            _ = try Socket.connect(.unix(path: path))
            Issue.record("connect to a missing socket should fail")
        } catch {
            #expect(error.code == ENOENT)
        }
    }

    @Test func overlongUnixPathIsRejected() throws {
        let path = "/tmp/" + String(repeating: "x", count: 200)
        do {
            _ = try Socket.listen(.unix(path: path))
            Issue.record("a 205-byte unix path cannot be bound")
        } catch {
            #expect(error.code == ENAMETOOLONG)
        }
        #expect(throws: SystemError.self) { try Socket.connect(.unix(path: path)) }
    }

    /// Listens on a random high TCP port of `host`, retrying on EADDRINUSE.
    private func listenTCP(_ host: String) throws -> (OwnedFD, UInt16)? {
        for _ in 0..<50 {
            let port = UInt16.random(in: 20000...60999)
            do {
                return (try Socket.listen(.tcp(host: host, port: port)), port)
            } catch {
                if error.code == EADDRINUSE { continue }
                throw error
            }
        }
        Issue.record("no free port found")
        return nil
    }

    @Test func tcpOverIPv4Loopback() throws {
        guard let (listener, port) = try listenTCP("127.0.0.1") else { return }
        #expect(try Socket.accept(listener) == nil)
        let client = try Socket.connect(.tcp(host: "127.0.0.1", port: port))
        #expect(waitFor(listener.rawValue))
        let server = try #require(try Socket.accept(listener))
        #expect(hasCloseOnExec(server.rawValue) && hasCloseOnExec(client.rawValue))
        var one: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        #expect(getsockopt(client.rawValue, Int32(IPPROTO_TCP), TCP_NODELAY, &one, &len) == 0 && one != 0, "TCP_NODELAY on the client")
        #expect(getsockopt(server.rawValue, Int32(IPPROTO_TCP), TCP_NODELAY, &one, &len) == 0 && one != 0, "TCP_NODELAY on the accepted socket")
        try exchange(client, server)
    }

    @Test func tcpOverIPv6LoopbackWhenAvailable() throws {
        let probe = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard probe >= 0 else { return } // no IPv6 in this environment
        var addr = sockaddr_in6()
        addr.sin6_family = sa_family_t(AF_INET6)
        addr.sin6_addr = in6addr_loopback
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        Glibc.close(probe)
        guard bound == 0 else { return } // ::1 not configured

        let address = try SocketAddress(parsing: "tcp:[::1]:1")
        guard case .tcp(let host, _) = address else { Issue.record("not tcp"); return }
        guard let (listener, port) = try listenTCP(host) else { return }
        let client = try Socket.connect(.tcp(host: "::1", port: port))
        #expect(waitFor(listener.rawValue))
        let server = try #require(try Socket.accept(listener))
        try exchange(client, server)
    }

    @Test func tcpConnectToAClosedPortIsRefused() throws {
        guard let (listener, port) = try listenTCP("127.0.0.1") else { return }
        listener.close()
        do {
            _ = try Socket.connect(.tcp(host: "127.0.0.1", port: port))
            Issue.record("connect to a closed port should fail")
        } catch {
            #expect(error.code == ECONNREFUSED)
        }
    }

    @Test func unresolvableHostFails() {
        #expect(throws: SystemError.self) { try Socket.connect(.tcp(host: "no such host.invalid", port: 80)) }
    }

    /// Sends a block each way and checks it arrives intact.
    private func exchange(_ x: OwnedFD, _ y: OwnedFD) throws {
        for (from, to) in [(x, y), (y, x)] {
            let block = (0..<50_000).map { _ in UInt8.random(in: 0...255) }
            var sent = 0
            var fds: [OwnedFD] = []
            var got: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            let deadline = monotonicNow() + 5_000_000_000
            while (sent < block.count || got.count < block.count) && monotonicNow() < deadline {
                if sent < block.count, case .wrote(let n) = try block.withUnsafeBytes({ try Socket.sendSome(from, UnsafeRawBufferPointer(rebasing: $0[sent...])) }) {
                    sent += n
                }
                let r = try buf.withUnsafeMutableBytes { try Socket.receive(to, into: $0, fds: &fds) }
                switch r {
                case .bytes(let n): got += buf[0..<n]
                case .wouldBlock: _ = waitFor(to.rawValue, timeoutMs: 10)
                case .endOfStream: Issue.record("unexpected end of stream"); return
                }
            }
            #expect(got == block)
            #expect(fds.isEmpty)
        }
    }
}
