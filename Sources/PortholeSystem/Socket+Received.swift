import Glibc

extension Socket {
    /// What one read or receive did.
    public enum Received: Equatable, Sendable {
        /// This many bytes arrived (never 0).
        case bytes(Int)
        /// Nothing is there now.
        case wouldBlock
        /// The other end is gone: nothing more will arrive.
        case endOfStream
    }
}

extension Socket.Received {
    /// The one loop every read runs in: `body` makes one read-like call
    /// (-1 with errno on failure) and is called again if a signal
    /// interrupted it (EINTR). 0 bytes, or a failure with `endOfStreamOn`,
    /// is the end of the stream; EAGAIN is `.wouldBlock`; any other failure
    /// is thrown, described by `operation`.
    static func retrying(_ operation: @autoclosure () -> String, endOfStreamOn end: Int32? = nil,
                         _ body: () throws(SystemError) -> Int) throws(SystemError) -> Socket.Received {
        while true {
            let n = try body()
            if n > 0 { return .bytes(n) }
            if n == 0 { return .endOfStream }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
            if code == end { return .endOfStream }
            throw SystemError(operation(), code: code)
        }
    }
}
