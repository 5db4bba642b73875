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
    /// Whether a commit of `buffer` has bytes to bring to the host: false
    /// where the client draws into memory the host reads (a cooperative
    /// pool's buffers), whose commits then skip working out their spans.
    func copiesDamage(of buffer: ShmBuffer) -> Bool
    /// Looks at a commit before its first slice and decides, for the whole
    /// commit, how it is synced. May finish it (nothing to copy, or sent
    /// another way): it then empties `job.slices`.
    func beginSync(_ job: inout SyncJob, channel: LinkChannel, stats: ProxyStats) throws(MessageFault)
    /// Brings the host's copy of `spans` (pool bytes of the job's buffer,
    /// the next slice) up to date.
    func syncSpans(_ spans: [Range<Int>], of job: inout SyncJob, channel: LinkChannel, stats: ProxyStats) throws(MessageFault)
    /// The sync of `spans` as work another thread can run, or nil if it
    /// runs on the loop (`syncSpans`).
    func detachedCopy(_ spans: [Range<Int>], of job: SyncJob, channel: LinkChannel) throws(MessageFault) -> (any DetachedSync)?
    /// Takes in what a detached sync did: the job's counts, the stats, and
    /// whatever must still be sent.
    func finishDetached(_ copy: OffloadedCopy, of job: inout SyncJob, channel: LinkChannel, stats: ProxyStats) throws(MessageFault)
    /// The commit's last slice is done: what it says about the next commits.
    func endSync(_ job: SyncJob)
}

extension ClientPool {
    /// Neither the pool object nor any buffer of it is left.
    var isUnused: Bool { !poolAlive && bufferCount == 0 }
}
