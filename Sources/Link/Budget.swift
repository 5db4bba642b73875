/// A count of something a peer makes this process hold (file descriptors,
/// resource memory, Wayland objects) against its limit. A budget may draw on
/// a parent's (a channel's on its link's, a link's on the host's total): a
/// take succeeds only when every level has room, and then counts at every
/// level. Nothing is taken from a level unless all of them had room.
public final class Budget: CustomStringConvertible {
    /// What is counted, and whose it is: "file descriptors of guest 'vm1'".
    public let name: String
    public let limit: UInt64
    public private(set) var used: UInt64 = 0
    public let parent: Budget?

    public init(_ name: String, limit: UInt64, parent: Budget? = nil) {
        self.name = name
        self.limit = limit
        self.parent = parent
    }

    /// Units free at this level alone.
    public var free: UInt64 { limit - min(used, limit) }

    /// Takes `n` units at every level, leaving at least `reserve` units free
    /// at the top one (the host keeps descriptors for accepting links and
    /// connecting to its compositor). Returns nil when it fit; otherwise the
    /// level that had no room, and nothing is taken.
    public func take(_ n: UInt64, keepingFree reserve: UInt64 = 0) -> Budget? {
        var level: Budget? = self
        while let b = level {
            let keep = b.parent == nil ? reserve : 0
            let (want, overflow) = b.used.addingReportingOverflow(n)
            if overflow || want > b.limit || b.limit - want < keep { return b }
            level = b.parent
        }
        level = self
        while let b = level {
            b.used += n
            level = b.parent
        }
        return nil
    }

    /// Gives back `n` units taken earlier, at every level.
    public func give(_ n: UInt64) {
        var level: Budget? = self
        while let b = level {
            b.used -= min(n, b.used)
            level = b.parent
        }
    }

    /// Why a take of `n` found this level without room, for a reason text.
    public func exhausted(asking n: UInt64) -> String { "\(name): \(used) of \(limit) in use, \(n) more asked" }

    public var description: String { "\(name): \(used) of \(limit)" }
}
