import Glibc

/// What one write to a non-blocking descriptor did: how many bytes it took
/// (possibly fewer than offered), or that it would have had to wait. A full
/// buffer is an ordinary answer, not an error and not a count of 0, so that
/// callers cannot mistake it for progress.
public enum WriteOutcome: Equatable, Sendable {
    case wrote(Int)
    case wouldBlock
}

extension WriteOutcome {
    /// The one loop every write runs in: `body` makes one write-like call
    /// (-1 with errno on failure) and is called again if a signal
    /// interrupted it (EINTR); EAGAIN is `.wouldBlock`, any other failure
    /// is thrown, described by `operation`.
    static func retrying(_ operation: @autoclosure () -> String, _ body: () -> Int) throws(SystemError) -> WriteOutcome {
        while true {
            let n = body()
            if n >= 0 { return .wrote(n) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            throw SystemError(operation())
        }
    }
}
