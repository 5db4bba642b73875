/// Memory a `resourceUpdate`'s ranges are written into as the data arrives
/// (range offsets count from `base`). `owner` keeps the memory mapped until
/// the update is complete; `completed` is called then.
public final class UpdateTarget {
    public let base: UnsafeMutableRawPointer
    public let owner: AnyObject
    /// Bytes copied from the receive buffer, and received straight into place.
    public internal(set) var copied = 0
    public internal(set) var direct = 0
    let completed: (UpdateTarget) -> Void

    public init(base: UnsafeMutableRawPointer, owner: AnyObject, completed: @escaping (UpdateTarget) -> Void) {
        self.base = base
        self.owner = owner
        self.completed = completed
    }
}
