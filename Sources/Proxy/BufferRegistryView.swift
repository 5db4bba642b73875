import Sharing

/// What the shm checks need of the guest's buffer registry.
protocol BufferRegistryView {
    /// The id of a registered buffer one of whose ranges holds the bytes, if any.
    func registration(containing offset: UInt64, length: UInt64) -> UInt32?
}

extension BufferRegistry: BufferRegistryView {
    func registration(containing offset: UInt64, length: UInt64) -> UInt32? { buffer(containing: offset, length: length)?.id }
}
