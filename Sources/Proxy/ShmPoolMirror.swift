import Link
import PortholeSystem

/// Guest side of a client's wl_shm pool: a read-only view of the client's
/// memory and a private mirror holding what the host's copy contains. Commits
/// send only bytes where the two differ.
final class ShmPoolMirror {
    let resourceID: UInt32
    private let clientFD: OwnedFD
    private(set) var client: SharedMapping
    private(set) var mirror: SharedMapping
    private(set) var size: Int
    /// The wl_shm_pool object still exists.
    var poolAlive = true
    /// wl_buffers created from this pool and not destroyed.
    var bufferCount = 0
    /// Commits still to copy without comparing (see GuestChannel.blindCommitRun).
    var blindCommits = 0
    /// Pool byte ranges sent straight from the client's memory: the mirror
    /// does not hold what the host has there (sorted, disjoint).
    private(set) var stale: [Range<Int>] = []

    func isStale(_ r: Range<Int>) -> Bool { stale.contains { $0.overlaps(r) } }

    func markStale(_ r: Range<Int>) {
        guard !r.isEmpty else { return }
        var merged = r
        var kept: [Range<Int>] = []
        for s in stale {
            if s.overlaps(merged) || s.upperBound == merged.lowerBound || merged.upperBound == s.lowerBound {
                merged = min(s.lowerBound, merged.lowerBound)..<max(s.upperBound, merged.upperBound)
            } else {
                kept.append(s)
            }
        }
        kept.append(merged)
        stale = kept.sorted { $0.lowerBound < $1.lowerBound }
        if stale.count > Self.maxStaleRanges { stale = [stale.first!.lowerBound..<stale.map(\.upperBound).max()!] }
    }

    /// Most stale ranges kept; beyond it they merge into one (syncing more
    /// bytes than needed is still right).
    static let maxStaleRanges = 64

    /// Removes and returns the stale parts of `r`.
    func takeStale(in r: Range<Int>) -> [Range<Int>] {
        let taken = stale.compactMap { s -> Range<Int>? in
            let c = s.clamped(to: r)
            return c.isEmpty ? nil : c
        }
        clearStale(r)
        return taken
    }

    func clearStale(_ r: Range<Int>) {
        var kept: [Range<Int>] = []
        for s in stale {
            guard s.overlaps(r) else { kept.append(s); continue }
            if s.lowerBound < r.lowerBound { kept.append(s.lowerBound..<r.lowerBound) }
            if r.upperBound < s.upperBound { kept.append(r.upperBound..<s.upperBound) }
        }
        stale = kept
    }

    init(resourceID: UInt32, clientFD: OwnedFD, size: Int) throws(SystemError) {
        self.resourceID = resourceID
        self.clientFD = clientFD
        self.size = size
        client = try SharedMapping(fd: clientFD, size: size, writable: false)
        mirror = try SharedMapping(anonymous: size)
    }

    /// Size of the client's file now (it may shrink it behind our back).
    func clientFileSize() -> Int { (try? clientFD.fileSize()) ?? 0 }

    /// Whether the client's file carries F_SEAL_SHRINK (as memfds from
    /// weston's and many toolkits' allocators do), so its mapping can never
    /// fault. Seals are never removed, so a yes is kept.
    var clientCannotShrink: Bool {
        if sealedAgainstShrink { return true }
        sealedAgainstShrink = (try? Memfd.seals(of: clientFD).contains(.shrink)) ?? false
        return sealedAgainstShrink
    }
    private var sealedAgainstShrink = false

    func grow(to newSize: Int) throws(SystemError) {
        try client.grow(to: newSize)
        try mirror.grow(to: newSize)
        size = newSize
    }

    var isUnused: Bool { !poolAlive && bufferCount == 0 }
}

/// Accumulates changed byte ranges of one resource into update frames of
/// bounded size.
struct UpdateBuilder {
    let channel: UInt32
    let resource: UInt32
    let maxData: Int
    var ranges: [UpdateRange] = []
    var data: [UInt8] = []
    var frames: [LinkFrame] = []
    var totalBytes = 0

    init(channel: UInt32, resource: UInt32, maxPayload: Int) {
        self.channel = channel
        self.resource = resource
        maxData = maxPayload - 4096
    }

    /// Adds `length` bytes at `offset` read from `source`.
    mutating func add(offset: Int, _ source: UnsafeRawPointer, length: Int) {
        var done = 0
        while done < length {
            let room = maxData - data.count - 16 * (ranges.count + 1)
            if room <= 0 { flush(); continue }
            let n = min(room, length - done)
            if let last = ranges.last, last.offset + UInt64(last.length) == UInt64(offset + done), UInt64(last.length) + UInt64(n) < UInt64(UInt32.max) {
                ranges[ranges.count - 1].length += UInt32(n)
            } else {
                ranges.append(UpdateRange(offset: UInt64(offset + done), length: UInt32(n)))
            }
            data.append(contentsOf: UnsafeRawBufferPointer(start: source + done, count: n))
            done += n
            totalBytes += n
        }
    }

    mutating func flush() {
        guard !ranges.isEmpty else { return }
        frames.append(.resourceUpdate(channel: channel, resource: resource, ranges: ranges, bytes: data))
        ranges.removeAll(keepingCapacity: true)
        data.removeAll(keepingCapacity: true)
    }
}
