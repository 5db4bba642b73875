import Glibc

/// How bytes move on a descriptor. Decide once per descriptor (`of(_:)`),
/// then pass it to `WriteQueue.flush` and `ReadBuffer.fill`.
public enum StreamKind: Sendable, Equatable {
    /// A socket: sendmsg and recvmsg, so fds may travel (SCM_RIGHTS).
    case socket
    /// Any other byte stream (a tty, a character device such as a
    /// virtio-serial port, a pipe): read and write; fds never travel.
    case plain

    /// `.socket` if fstat says `fd` is a socket, else `.plain`.
    public static func of(_ fd: OwnedFD) -> StreamKind {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { return .socket }
        return (st.st_mode & S_IFMT) == S_IFSOCK ? .socket : .plain
    }

    /// Writes bytes to a non-socket. Returns bytes written, or 0 if it would block.
    static func write(_ fd: OwnedFD, _ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Int {
        while true {
            let n = Glibc.write(fd.rawValue, bytes.baseAddress, bytes.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
            throw SystemError("write on fd \(fd.rawValue)")
        }
    }

    /// Reads from a non-socket. EIO, what a tty whose other side hung up
    /// (such as a pty master whose slave closed) reports, is end of stream.
    public static func read(_ fd: OwnedFD, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Socket.Received {
        while true {
            let n = Glibc.read(fd.rawValue, buffer.baseAddress, buffer.count)
            if n > 0 { return .bytes(n) }
            if n == 0 || errno == EIO { return .endOfStream }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            throw SystemError("read on fd \(fd.rawValue)")
        }
    }
}
