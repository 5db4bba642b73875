import Sharing

/// What the shm checks need of the guest's buffer registry.
protocol BufferRegistryView {
    func containsBuffer(at offset: UInt64, length: UInt64) -> Bool
}

extension BufferRegistry: BufferRegistryView {
    func containsBuffer(at offset: UInt64, length: UInt64) -> Bool { buffer(containing: offset, length: length) != nil }
}
