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
    /// Changed runs of the sync being sent (reused).
    private var runs: [UpdateRun] = []
    private var sealedAgainstShrink = false

    init(resourceID: UInt32, client file: ClientFile, size: Int) throws(SystemError) {
        self.resourceID = resourceID
        clientFile = file
        self.size = size
        client = try file.map(size: size)
        mirror = try SharedMapping(anonymous: size)
    }

    /// Size of the client's file now (it may shrink it behind our back).
    func clientFileSize() -> Int { clientFile.size() }

    /// Whether the client's file carries F_SEAL_SHRINK (as memfds from
    /// weston's and many toolkits' allocators do), so its mapping can never
    /// fault. Seals are never removed, so a yes is kept.
    var clientCannotShrink: Bool {
        if sealedAgainstShrink { return true }
        sealedAgainstShrink = clientFile.sealedAgainstShrink()
        return sealedAgainstShrink
    }

    /// Grows both mappings. Bytes of either still queued by reference on the
    /// link are copied out first: growing may move the mappings.
    func grow(to newSize: Int, channel: LinkChannel) throws(SystemError) {
        channel.detach(mirror)
        channel.detach(client)
        try client.grow(to: newSize)
        try mirror.grow(to: newSize)
        size = newSize
    }

    func sync(_ b: ShmBuffer, rects: [Rect], bufferID: UInt32, exclusive: Bool, channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        guard clientFileSize() >= size, let client = client.base, let mirror = mirror.base else {
            throw ClientMemoryGuard.shrank(bufferID, size)
        }
        // Earlier updates may still be queued from the mirror: copy them out before it changes.
        channel.detach(self.mirror)
        let before = channel.referencedBytes
        if try sendBlind(b, rects: rects, exclusive: exclusive, client: client, channel: channel, stats: stats) { return }
        try clientFile.reading(bufferID: bufferID) { () throws(MessageFault) in
            try syncCompared(b, rects: rects, bufferID: bufferID, client: client, mirror: mirror, channel: channel, stats: stats, before: before)
        }
    }

    /// The sync's reads of the client's memory: compared with the mirror, or copied in a run of blind commits.
    private func syncCompared(_ b: ShmBuffer, rects: [Rect], bufferID: UInt32, client: UnsafeMutableRawPointer,
                              mirror: UnsafeMutableRawPointer, channel: LinkChannel, stats: ProxyStats, before: UInt64) throws(MessageFault) {
        var copied = 0
        var pending = 0
        var sent = 0
        var syncCopied = 0
        runs.removeAll(keepingCapacity: true)
        // The client can still shrink its file while we read it.
        try ClientMemoryGuard.read(client, length: self.client.size, bufferID: bufferID, stats: stats) {
            var synced: [Range<Int>] = []
            if stale.overlaps(b.span) {
                // These bytes were sent straight from the client's memory and
                // the mirror missed them. Outside this commit's damage (which
                // includes what the buffer missed) the client's bytes are what
                // the host has: copy them into the mirror, unsent. The damaged
                // parts are sent below without comparing.
                synced = stale.take(in: b.span)
                for r in synced {
                    (mirror + r.lowerBound).copyMemory(from: client + r.lowerBound, byteCount: r.count)
                    syncCopied += r.count
                }
            }
            func sendRuns(_ force: Bool) {
                guard force ? !runs.isEmpty : pending >= SyncTuning.sendChunk else { return }
                sent += channel.sendUpdate(resource: resourceID, base: UnsafeRawPointer(mirror), runs: runs, owner: self.mirror)
                runs.removeAll(keepingCapacity: true)
                pending = 0
            }
            func addSynced(_ start: Int, _ end: Int) {
                ByteDiff.addRun(&runs, offset: start, length: end - start)
                pending += end - start
                sendRuns(false)
            }
            if blindCommits > 0 {
                blindCommits -= 1
                b.forEachDamagedSpan(rects, split: synced) { start, end, isSynced in
                    if isSynced { return addSynced(start, end) }
                    let source = client + b.sourceShift(at: start)
                    var at = start
                    while at < end {
                        let n = min(end - at, SyncTuning.sendChunk)
                        (mirror + at).copyMemory(from: source + at, byteCount: n)
                        ByteDiff.addRun(&runs, offset: at, length: n)
                        copied += n
                        pending += n
                        at += n
                        sendRuns(false)
                    }
                }
            } else {
                var compared = 0
                b.forEachDamagedSpan(rects, split: synced) { start, end, isSynced in
                    if isSynced { return addSynced(start, end) }
                    let source = client + b.sourceShift(at: start)
                    var at = start
                    while at < end {
                        let stop = min(end, at + SyncTuning.sendChunk)
                        compared += stop - at
                        let n = ByteDiff.diff(client: source, copy: mirror, start: at, end: stop, runs: &runs)
                        copied += n
                        pending += n
                        at = stop
                        sendRuns(false)
                    }
                }
                if SyncTuning.mostlyChanged(copied: copied, compared: compared) { blindCommits = SyncTuning.blindCommitRun }
            }
            sendRuns(true)
        }
        let referenced = Int(channel.referencedBytes - before)
        stats.pixelBytesSent += UInt64(sent)
        stats.copiedBytes += UInt64(copied + syncCopied + sent - referenced)
    }

    /// In a run of blind commits, sends long changed runs straight from the
    /// client's memory, without a copy into the mirror (which is then stale
    /// in these bytes). Bytes queued by reference are read by the kernel
    /// later, outside any guard: only a file sealed against shrinking may be
    /// used so (a shrink would fail the link's write with EFAULT). Returns
    /// whether it sent the commit.
    private func sendBlind(_ b: ShmBuffer, rects: [Rect], exclusive: Bool, client: UnsafeMutableRawPointer,
                           channel: LinkChannel, stats: ProxyStats) throws(MessageFault) -> Bool {
        guard blindCommits > 1, exclusive, !b.yInverted, clientCannotShrink else { return false }
        runs.removeAll(keepingCapacity: true)
        b.forEachDamagedSpan(rects) { start, end in ByteDiff.addRun(&runs, offset: start, length: end - start) }
        let total = runs.reduce(0) { $0 + $1.length }
        // Short runs cost a copy into the link queue anyway: keep the mirror.
        guard total >= runs.count * SyncTuning.referenceRun else { return false }
        let before = channel.referencedBytes
        blindCommits -= 1
        for r in runs { stale.insert(r.offset..<(r.offset + r.length)) }
        let sent = channel.sendUpdate(resource: resourceID, base: UnsafeRawPointer(client), runs: runs, owner: self.client)
        let referenced = Int(channel.referencedBytes - before)
        stats.pixelBytesSent += UInt64(sent)
        stats.copiedBytes += UInt64(sent - referenced)
        return true
    }
}
