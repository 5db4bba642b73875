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

    /// Reads from a non-socket (`OwnedFD.readSome`). EIO, what a tty whose
    /// other side hung up (such as a pty master whose slave closed)
    /// reports, is end of stream too.
    public static func read(_ fd: OwnedFD, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Socket.Received {
        do {
            return try fd.readSome(into: buffer)
        } catch where error.code == EIO {
            return .endOfStream
        }
    }
}
