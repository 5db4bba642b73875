/// Memory a `resourceUpdate`'s ranges are written into as the data arrives
/// (range offsets count from `base`; none reaches past `limit`). `owner`
/// keeps the memory mapped until the update is complete; `completed` is
/// called then: after one frame, or after a run of frames of the same
/// resource received on a receive thread (`frames` says how many).
public final class UpdateTarget {
    public let base: UnsafeMutableRawPointer
    /// Bytes from `base` the resource has: every range lies below it (the
    /// loop checked the first frame's; a receive thread checks the rest).
    public let limit: UInt64
    public let owner: AnyObject
    /// Bytes copied from a receive buffer, and received straight into place.
    public internal(set) var copied = 0
    public internal(set) var direct = 0
    /// Of those, the bytes a receive thread took in.
    public internal(set) var onThread = 0
    /// Whole frames received into it.
    public internal(set) var frames = 0
    let completed: (UpdateTarget) -> Void

    public init(base: UnsafeMutableRawPointer, limit: UInt64, owner: AnyObject, completed: @escaping (UpdateTarget) -> Void) {
        self.base = base
        self.limit = limit
        self.owner = owner
        self.completed = completed
    }
}
