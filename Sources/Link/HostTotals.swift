/// What all of a host's guests together may make it hold. Each link's own
/// budgets draw on these, so that many guests within their own quotas still
/// cannot exhaust the host. A link that finds the host's total spent fails
/// only the channel that asked (the guest may be within its own quota).
public final class HostTotals {
    /// Descriptors held for guests: link sockets, compositor connections,
    /// memfds and pipes.
    public let fds: Budget
    /// Bytes of memory resources held for guests.
    public let memory: Budget
    /// Descriptors a guest's resources never take, so that the host can
    /// still accept a link and connect to its compositor.
    public let fdReserve: UInt64

    public init(fds: UInt64, memory: UInt64, fdReserve: UInt64) {
        self.fds = Budget("file descriptors the host holds for all guests", limit: fds)
        self.memory = Budget("resource memory the host holds for all guests", limit: memory)
        self.fdReserve = fdReserve
    }

    /// What each use of a descriptor leaves free of the total: resources
    /// keep the whole reserve, a compositor connection half of it, a new
    /// link a few (for its first channel).
    public enum FdUse: Sendable {
        case resource, compositorConnection, link
    }

    public func reserve(for use: FdUse) -> UInt64 {
        switch use {
        case .resource: return fdReserve
        case .compositorConnection: return fdReserve / 2
        case .link: return min(fdReserve, 4)
        }
    }
}
