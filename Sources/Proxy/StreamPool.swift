import Link
import PortholeSystem
import Wayland

/// A client pool mirrored over the link: a read-only view of the client's
/// memory and a private mirror holding what the host's copy contains. A sync
/// sends only the damaged bytes where the two differ.
final class StreamPool: ClientPool {
    let resourceID: UInt32
    private let clientFile: ClientFile
    private(set) var client: SharedMapping
    private(set) var mirror: SharedMapping
    private(set) var size: Int
    var poolAlive = true
    var bufferCount = 0
    /// Commits still to copy without comparing (see `SyncTuning.blindCommitRun`).
    var blindCommits = 0
    /// Bytes sent straight from the client's memory, which the mirror missed.
    var stale = StaleRanges()
    /// Changed runs of the sync being sent, and the pieces of its spans:
    /// kept between syncs for their capacity, moved into locals while one
    /// runs.
    private var runs: [UpdateRun] = []
    private var pieces: [SyncJob.Piece] = []
    private var hold = ClientFileHold()
    /// Faults the mirror in ahead of its first copy (nil: the copy does).
    var prefaulter: MirrorPrefaulter?
    /// Spans of the mirror already handed to `prefaulter`, and its jobs
    /// not yet done (the mirror must not move under them).
    private var prefaultedSpans: [Range<Int>] = []
    private var prefaultJobs: [BackgroundWorker.Ticket] = []
    /// Spans one pool has faulted in ahead at most (a window's buffers).
    static let maxPrefaultedSpans = 8

    init(resourceID: UInt32, client file: ClientFile, size: Int) throws(SystemError) {
        self.resourceID = resourceID
        clientFile = file
        self.size = size
        client = try file.map(size: size)
        mirror = try SharedMapping(anonymous: size)
        // Looked at once here (two system calls a pool), so that a sealed
        // file's commits skip their size check from the first.
        _ = clientCannotShrink
    }

    /// Size of the client's file now (it may shrink it behind our back).
    func clientFileSize() -> Int { clientFile.size() }

    /// Whether the client's file carries F_SEAL_SHRINK (as memfds from
    /// weston's and many toolkits' allocators do) and still holds the pool,
    /// so its mapping can never fault. Bytes of a file that may yet shrink,
    /// sent by reference, would fail the whole link's write with EFAULT.
    var clientCannotShrink: Bool { hold.cannotShrink(clientFile, below: size) }

    /// Whether the client's file still holds the pool (see `ClientFileHold`).
    private var clientHoldsPool: Bool { hold.holds(clientFile, size) }

    /// Grows both mappings. Bytes of either still queued by reference on the
    /// link are copied out first: growing may move the mappings.
    func grow(to newSize: Int, channel: LinkChannel) throws(SystemError) {
        channel.detach(mirror)
        channel.detach(client)
        for job in prefaultJobs { prefaulter?.wait(for: job) }
        prefaultJobs.removeAll()
        prefaultedSpans.removeAll()
        try client.grow(to: newSize)
        try mirror.grow(to: newSize)
        size = newSize
    }

    func copiesDamage(of buffer: ShmBuffer) -> Bool { true }

    func beginSync(_ job: inout SyncJob, channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        guard clientHoldsPool, client.base != nil, mirror.base != nil else {
            throw ClientMemoryGuard.shrank(job.bufferID, size)
        }
        // Earlier updates may still be queued from the mirror: copy them out
        // before it changes. (Later slices of this commit change other bytes.)
        channel.detach(self.mirror)
        if canSendByReference(job.buffer, slices: job.slices, exclusive: job.exclusive) {
            blindCommits -= 1
            job.blind = true
            job.byReference = true
            prefaultMirror(job.buffer.span)
            return
        }
        let span = job.buffer.span
        if stale.overlaps(span) {
            // These bytes were sent straight from the client's memory and
            // the mirror missed them. Outside this commit's damage (which
            // includes what the buffer missed) the client's bytes are what
            // the host has: they are copied into the mirror, unsent, before
            // the first slice (`copySynced`, or the copy thread). The damaged
            // parts are sent without comparing.
            job.synced = stale.take(in: span)
            job.syncedToCopy = true
        }
        if blindCommits > 0 {
            blindCommits -= 1
            job.blind = true
        }
    }

    func syncSpans(_ spans: [Range<Int>], of job: inout SyncJob, channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        guard clientHoldsPool, let client = client.base, let mirror = mirror.base else {
            throw ClientMemoryGuard.shrank(job.bufferID, size)
        }
        if job.byReference { return sendByReference(spans, client: client, channel: channel, stats: stats) }
        if job.syncedToCopy { try copySynced(&job, client: client, mirror: mirror, stats: stats) }
        let before = channel.referencedBytes
        let snapshot = job
        let (compared, copied, sent) = try clientFile.reading(bufferID: job.bufferID) { () throws(MessageFault) -> (Int, Int, Int) in
            try sendSpans(spans, of: snapshot, client: client, mirror: mirror, channel: channel, stats: stats)
        }
        job.compared += compared
        if !job.blind { job.changed += copied }
        let referenced = Int(channel.referencedBytes - before)
        stats.pixelBytesSent += UInt64(sent)
        stats.copiedBytes += UInt64(copied + sent - referenced)
    }

    /// Copies the ranges the mirror had missed (`beginSync`) from the client's memory.
    private func copySynced(_ job: inout SyncJob, client: UnsafeMutableRawPointer, mirror: UnsafeMutableRawPointer,
                            stats: ProxyStats) throws(MessageFault) {
        let synced = job.synced, length = self.client.size, bufferID = job.bufferID
        let n = try clientFile.reading(bufferID: bufferID) { () throws(MessageFault) -> Int in
            try ClientMemoryGuard.read(client, length: length, bufferID: bufferID, stats: stats) {
                MirrorSyncWork.copyMissed(synced, client: client, mirror: mirror)
            }
        }
        job.syncedToCopy = false
        stats.copiedBytes += UInt64(n)
    }

    /// The slice's reads of the client's memory: compared with the mirror,
    /// or copied in a run of blind commits, and sent as they gather
    /// (`MirrorSyncWork.walk`). Returns the bytes compared, copied into the
    /// mirror and sent.
    private func sendSpans(_ spans: [Range<Int>], of job: SyncJob, client: UnsafeMutableRawPointer, mirror: UnsafeMutableRawPointer,
                           channel: LinkChannel, stats: ProxyStats) throws(MessageFault) -> (Int, Int, Int) {
        // Lists kept between syncs for their capacity.
        var runs: [UpdateRun] = []
        swap(&runs, &self.runs)
        defer { swap(&runs, &self.runs) }
        runs.removeAll(keepingCapacity: true)
        var pieces: [SyncJob.Piece] = []
        swap(&pieces, &self.pieces)
        defer { swap(&pieces, &self.pieces) }
        job.pieces(of: spans, into: &pieces)
        let rows = job.buffer.rows, blind = job.blind, resource = resourceID, owner = self.mirror
        var sent = 0
        // The client can still shrink its file while we read it.
        let (compared, copied) = try ClientMemoryGuard.read(client, length: self.client.size, bufferID: job.bufferID, stats: stats) {
            MirrorSyncWork.walk(pieces, client: client, mirror: mirror, rows: rows, blind: blind, runs: &runs) { runs in
                sent += Self.send(&runs, resource: resource, base: mirror, owner: owner, channel: channel)
            }
        }
        return (compared, copied, sent)
    }

    /// Hands `runs` of the memory at `base` to the link and empties the list.
    private static func send(_ runs: inout [UpdateRun], resource: UInt32, base: UnsafeMutableRawPointer, owner: SharedMapping,
                             channel: LinkChannel) -> Int {
        let n = channel.sendUpdate(resource: resource, base: UnsafeRawPointer(base), runs: runs, owner: owner)
        runs.removeAll(keepingCapacity: true)
        return n
    }

    /// A window on the bulk lane (a video beside a window being typed in,
    /// `LanePolicy`) compares and copies on the copy thread; the loop sends
    /// the result. Others sync on the loop, a slice at a time, sending as
    /// they go. A dma-buf's reads need the loop's bracket (`ClientFile.reading`).
    func detachedCopy(_ spans: [Range<Int>], of job: SyncJob, channel: LinkChannel) throws(MessageFault) -> (any DetachedSync)? {
        guard channel.isOnLane, !job.byReference, !clientFile.isDmaBuf else { return nil }
        guard clientHoldsPool, let client = client.base, let mirror = mirror.base else {
            throw ClientMemoryGuard.shrank(job.bufferID, size)
        }
        var pieces: [SyncJob.Piece] = []
        job.pieces(of: spans, into: &pieces)
        return MirrorSyncWork(client: client, clientLength: self.client.size, mirror: mirror, synced: job.syncedToCopy ? job.synced : [],
                              pieces: pieces, rows: job.buffer.rows, blind: job.blind, keepAlive: [self.client, self.mirror])
    }

    /// Counts what the copy thread did and sends the changed runs from the
    /// mirror (by reference: the next sync detaches them before changing it).
    func finishDetached(_ copy: OffloadedCopy, of job: inout SyncJob, channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        guard let work = copy.work as? MirrorSyncWork else { throw .implementation("a stream pool was handed another pool's sync") }
        let outcome = work.outcome
        if let e = outcome.guardError { throw .implementation("cannot read the pool safely: \(e)") }
        if outcome.faulted {
            stats.memoryFaults += 1
            throw ClientMemoryGuard.shrank(job.bufferID, work.clientLength)
        }
        job.syncedToCopy = false
        job.compared += outcome.compared
        if !job.blind { job.changed += outcome.copied }
        guard let base = mirror.base else { throw ClientMemoryGuard.shrank(job.bufferID, size) }
        let before = channel.referencedBytes
        var sent = 0
        for batch in outcome.batches {
            sent += channel.sendUpdate(resource: resourceID, base: UnsafeRawPointer(base), runs: batch, owner: mirror)
        }
        let referenced = Int(channel.referencedBytes - before)
        stats.pixelBytesSent += UInt64(sent)
        stats.copiedBytes += UInt64(outcome.synced + outcome.copied + sent - referenced)
    }

    func endSync(_ job: SyncJob) {
        if !job.blind && SyncTuning.mostlyChanged(copied: job.changed, compared: job.compared) { blindCommits = SyncTuning.blindCommitRun }
    }

    /// In a run of blind commits, long changed runs may be sent straight
    /// from the client's memory, without a copy into the mirror (which is
    /// then stale in these bytes). Bytes queued by reference are read by the
    /// kernel later, outside any guard: only a file sealed against shrinking
    /// may be used so (a shrink would fail the link's write with EFAULT).
    private func canSendByReference(_ b: ShmBuffer, slices: SyncSlices, exclusive: Bool) -> Bool {
        guard blindCommits > 1, exclusive, !b.yInverted, clientCannotShrink else { return false }
        var all = slices
        let spans = all.rest()
        // Short runs cost a copy into the link queue anyway: keep the mirror.
        return slices.remainingBytes >= spans.count * SyncTuning.referenceRun
    }

    /// A by-reference commit leaves the buffer's span of the mirror
    /// untouched until the blind run's last commit copies into it: the
    /// first time a span goes so, it is faulted in meanwhile, off the loop.
    private func prefaultMirror(_ span: Range<Int>) {
        guard let prefaulter, prefaultedSpans.count < Self.maxPrefaultedSpans,
              !prefaultedSpans.contains(where: { $0.overlaps(span) }) else { return }
        prefaultJobs.removeAll { !prefaulter.isPending($0) }
        guard let job = prefaulter.start(mirror, span: span) else { return }
        prefaultedSpans.append(span)
        prefaultJobs.append(job)
    }

    /// Sends `spans` of a by-reference commit from the client's memory.
    private func sendByReference(_ spans: [Range<Int>], client: UnsafeMutableRawPointer, channel: LinkChannel, stats: ProxyStats) {
        var runs: [UpdateRun] = []
        swap(&runs, &self.runs)
        defer { swap(&runs, &self.runs) }
        runs.removeAll(keepingCapacity: true)
        for r in spans { ByteDiff.addRun(&runs, offset: r.lowerBound, length: r.count) }
        let before = channel.referencedBytes
        for r in runs { stale.insert(r.offset..<(r.offset + r.length)) }
        let sent = channel.sendUpdate(resource: resourceID, base: UnsafeRawPointer(client), runs: runs, owner: self.client)
        let referenced = Int(channel.referencedBytes - before)
        stats.pixelBytesSent += UInt64(sent)
        stats.copiedBytes += UInt64(sent - referenced)
    }
}
