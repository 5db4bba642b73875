import CPorthole
import Glibc

/// A flag one thread raises and another waits on beside its other
/// descriptors (an eventfd): how a worker tells the loop its work is done
/// (`BackgroundWorker`), and how the loop tells a worker blocked in poll to
/// stop (`BulkReceive`). One thread raises it, the other lowers it.
public final class EventSignal: @unchecked Sendable {
    private let fd: OwnedFD

    public init() throws(SystemError) {
        fd = OwnedFD(try syscall("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) })
    }

    /// The descriptor to poll: readable once signalled, until `reset`.
    public var rawValue: Int32 { fd.rawValue }

    /// Raises the flag (any number of times: it stays raised).
    public func signal() {
        var one: UInt64 = 1
        _ = write(fd.rawValue, &one, 8)
    }

    /// Lowers it again.
    public func reset() {
        var count: UInt64 = 0
        _ = read(fd.rawValue, &count, 8)
    }
}
