import Link
import PortholeSystem
import Wayland

/// A client's wl_shm_pool whose host-side twin is the shared region.
///
/// An ordinary client's pool gets a chunk of the region as its copy: pool
/// offset `o` is region offset `chunk.offset + o`, and a sync copies changed
/// damaged bytes from the client's memory into the chunk (the chunk is the
/// mirror; nothing crosses the link). A resize the chunk cannot absorb in
/// place moves new buffers to a new chunk; buffers made earlier keep theirs
/// until destroyed.
///
/// A cooperative client's pool is the region itself (the client mapped it):
/// nothing is copied, offsets pass unchanged.
final class RegionPool: ClientPool {
    let resourceID: UInt32
    private unowned let region: GuestRegion
    private let clientFile: ClientFile?
    /// The client's memory (nil for a cooperative pool).
    private(set) var client: SharedMapping?
    private(set) var size: Int
    /// Chunks, the current one last (empty for a cooperative pool).
    private(set) var chunks: [RegionChunk]
    /// The size the host's wl_shm_pool has been given (it may only grow).
    private(set) var hostPoolSize: Int
    var poolAlive = true
    var bufferCount = 0
    /// Commits left to copy without comparing (see `SyncTuning.regionBlindCommitRun`).
    private var blindCommits = 0
    private var hold = ClientFileHold()

    var cooperative: Bool { client == nil }
    var current: RegionChunk? { chunks.last }

    /// A pool copied into `chunk`.
    init(resourceID: UInt32, region: GuestRegion, client file: ClientFile, size: Int, chunk: RegionChunk) throws(SystemError) {
        self.resourceID = resourceID
        self.region = region
        clientFile = file
        self.size = size
        client = try file.map(size: size)
        chunks = [chunk]
        hostPoolSize = Int(chunk.offset + chunk.size)
        // Looked at once (two system calls a pool): a sealed file's commits
        // skip their size check from the first.
        _ = hold.cannotShrink(file, below: size)
    }

    /// A cooperative pool: the client's fd is the region.
    init(cooperativeResourceID rid: UInt32, region: GuestRegion, size: Int) {
        resourceID = rid
        self.region = region
        clientFile = nil
        client = nil
        self.size = size
        chunks = []
        hostPoolSize = size
    }

    func clientFileSize() -> Int { clientFile?.size() ?? 0 }

    /// Whether the client's file still holds the pool (see `ClientFileHold`).
    private var clientHoldsPool: Bool {
        guard let clientFile else { return false }
        return hold.holds(clientFile, size)
    }

    /// Gives chunks no buffer needs back to the region (the current one only if `all`).
    func releaseIdleChunks(all: Bool) {
        var kept: [RegionChunk] = []
        for (i, c) in chunks.enumerated() {
            let isCurrent = i == chunks.count - 1
            if c.buffers == 0 && (!isCurrent || all) { region.releaseChunk(c) } else { kept.append(c) }
        }
        chunks = kept
    }

    /// The pool grows to `newSize`: in place if the region allows, else new
    /// buffers go to a new chunk. The host's pool grows to cover it.
    func resize(to newSize: Int, sender: UInt32) throws(MessageFault) {
        guard newSize >= size else { throw .shm(.invalidStride, object: sender, "pool cannot shrink (\(size) -> \(newSize))") }
        let regionSize = region.region.size
        if cooperative {
            guard newSize <= regionSize else {
                throw .shm(.invalidStride, object: sender, "pool of \(newSize) bytes on a \(regionSize)-byte shared region")
            }
            hostPoolSize = newSize
            return
        }
        guard newSize > size else { return }
        guard clientFileSize() >= newSize else { throw .shm(.invalidFD, object: sender, "pool fd is smaller than the new size \(newSize)") }
        do {
            try client?.grow(to: newSize)
            size = newSize
        } catch { throw .shm(.invalidFD, object: sender, "cannot map grown pool: \(error)") }
        if let chunk = current, region.extendChunk(chunk, to: UInt64(newSize)) {
            // Grew in place.
        } else if let chunk = region.allocateChunk(UInt64(newSize)) {
            chunks.append(chunk)
            releaseIdleChunks(all: false)
        } else {
            throw .display(.noMemory, "shared region full: cannot grow a pool to \(newSize) bytes (\(region.allocator.largestFree) bytes free in one piece)")
        }
        if let c = current { hostPoolSize = max(hostPoolSize, Int(c.offset + c.size)) }
    }

    /// A cooperative client draws straight into the region: its buffers have no chunk.
    func copiesDamage(of buffer: ShmBuffer) -> Bool { buffer.chunk != nil }

    func beginSync(_ job: inout SyncJob, channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        guard copiesDamage(of: job.buffer) else {
            job.slices = SyncSlices(spans: [])
            return
        }
        if blindCommits > 0 {
            blindCommits -= 1
            job.blind = true
        } else if job.slices.remainingBytes < SyncTuning.smallRegionCommit {
            job.blind = true
        }
    }

    func syncSpans(_ spans: [Range<Int>], of job: inout SyncJob, channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        guard let work = try copyWork(spans, of: job, detached: false) else { return }
        if let clientFile { try clientFile.reading(bufferID: job.bufferID) { work.run() } } else { work.run() }
        try Self.apply(work, to: &job, stats: stats)
    }

    /// The copy of `spans` as work for any thread; nil for a cooperative
    /// pool (nothing to copy). A dma-buf's reads need the loop's bracket
    /// (`ClientFile.reading`), so only `syncSpans` runs those.
    /// `detached`: another thread runs it, so it keeps the mappings alive.
    func copyWork(_ spans: [Range<Int>], of job: SyncJob, detached: Bool) throws(MessageFault) -> RegionCopyWork? {
        guard let chunk = job.buffer.chunk else { return nil }
        guard let mapping = client, let base = mapping.base, clientHoldsPool else { throw ClientMemoryGuard.shrank(job.bufferID, size) }
        // The copy thread offers its CPU between pieces; the loop's copies are sliced.
        let offerCPU: () -> Void = detached ? { ThreadScheduling.offerCPU() } : {}
        return RegionCopyWork(client: base, clientLength: size, copy: region.region.pointer(at: chunk.offset),
                              spans: spans, rows: job.buffer.rows, blind: job.blind,
                              keepAlive: detached ? [mapping, region.region] : [], offerCPU: offerCPU)
    }

    func detachedCopy(_ spans: [Range<Int>], of job: SyncJob, channel: LinkChannel) throws(MessageFault) -> (any DetachedSync)? {
        guard clientFile?.isDmaBuf != true else { return nil }
        return try copyWork(spans, of: job, detached: true)
    }

    func finishDetached(_ copy: OffloadedCopy, of job: inout SyncJob, channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        guard let work = copy.work as? RegionCopyWork else { throw .implementation("a region pool was handed another pool's sync") }
        try Self.apply(work, to: &job, stats: stats)
    }

    /// Counts a finished copy into the job and the stats; a fault is the
    /// client's wl_shm error.
    private static func apply(_ work: RegionCopyWork, to job: inout SyncJob, stats: ProxyStats) throws(MessageFault) {
        let outcome = work.outcome
        if let e = outcome.guardError { throw .implementation("cannot read the pool safely: \(e)") }
        if outcome.faulted {
            stats.memoryFaults += 1
            throw ClientMemoryGuard.shrank(job.bufferID, work.clientLength)
        }
        job.compared += outcome.compared
        job.changed += outcome.copied
        stats.copiedBytes += UInt64(outcome.copied)
        stats.copyHelperBytes += UInt64(outcome.helped)
    }

    func endSync(_ job: SyncJob) {
        if !job.blind && SyncTuning.mostlyChanged(copied: job.changed, compared: job.compared) { blindCommits = SyncTuning.regionBlindCommitRun }
    }
}
