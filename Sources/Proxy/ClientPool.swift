import Link
import Wayland

/// A guest client's wl_shm pool as the guest proxy replicates it to the
/// host: over the link (`StreamPool`) or into the shared region
/// (`RegionPool`). A commit only records what to sync (`PoolSyncQueue`);
/// the sync runs just before the data frame carrying the commit goes.
protocol ClientPool: AnyObject {
    /// The link resource standing for the pool.
    var resourceID: UInt32 { get }
    /// The client's pool size.
    var size: Int { get }
    /// The wl_shm_pool object still exists.
    var poolAlive: Bool { get set }
    /// wl_buffers made from it and not destroyed.
    var bufferCount: Int { get set }
    /// Brings the host's copy of `buffer`'s bytes under `rects` up to date.
    /// `exclusive`: no other buffer shares these pool bytes.
    func sync(_ buffer: ShmBuffer, rects: [Rect], bufferID: UInt32, exclusive: Bool, channel: LinkChannel, stats: ProxyStats) throws(MessageFault)
}

extension ClientPool {
    /// Neither the pool object nor any buffer of it is left.
    var isUnused: Bool { !poolAlive && bufferCount == 0 }
}
