/// A piece of the shared region that the guest gave to one client pool
/// (or to a pool's grown part). `generation` tells chunks of an earlier link
/// apart: they are never released into the allocator of a later one.
public final class RegionChunk {
    public let offset: UInt64
    public internal(set) var size: UInt64
    /// The link generation it was allocated in.
    let generation: Int
    /// Buffers made while this was the current chunk and not destroyed.
    public var buffers = 0
    init(offset: UInt64, size: UInt64, generation: Int) {
        self.offset = offset
        self.size = size
        self.generation = generation
    }
}
