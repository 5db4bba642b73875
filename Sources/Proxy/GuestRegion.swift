import Link
import PortholeSystem
import Sharing

/// The guest's use of a shared region on the current link: whether both
/// proxies agreed they map the same memory, the allocator that places client
/// pools in it, and the buffers registered with the host. Everything here
/// belongs to one link and is forgotten when it ends (the host frees its side
/// then too).
final class GuestRegion {
    let region: SharedRegion
    let stats: ProxyStats
    private(set) var allocator: RegionAllocator
    /// Both proxies exchanged matching region info on this link.
    private(set) var active = false
    private weak var link: LinkEndpoint?
    private var nextBufferID: UInt32 = 1
    private(set) var registered: Set<UInt32> = []
    /// Counts links, so a chunk of an earlier link is never freed into this one's allocator.
    private var generation = 0

    init(region: SharedRegion, stats: ProxyStats) {
        self.region = region
        self.stats = stats
        allocator = RegionAllocator(bounds: region.dataRange)
    }

    /// A link finished its hello exchange: offer our view of the region.
    func linkOpened(_ link: LinkEndpoint) {
        forget()
        self.link = link
        guard link.features & LinkFeatures.sharedRegion != 0 else {
            Log.warning("the host proxy has no shared region: every buffer is copied over the link (stream mode)")
            return
        }
        let header = region.currentHeader()
        if header == nil { Log.warning("region \(region.path) holds no header yet; the host will refuse it") }
        link.send(.regionInfo(size: UInt64(region.size), tag: header?.tag ?? [UInt8](repeating: 0, count: 16)))
    }

    /// The host's view of the region arrived: compare it with ours.
    func hostInfo(size: UInt64, tag: [UInt8]) throws(LinkProtocolError) {
        guard let link, link.features & LinkFeatures.sharedRegion != 0 else { throw .unexpected("regionInfo without the sharedRegion feature") }
        guard !active else { throw .unexpected("a second regionInfo") }
        guard size == UInt64(region.size) else {
            throw .regionMismatch("the host's region is \(size) bytes, the guest's (\(region.path)) is \(region.size) bytes")
        }
        let mine = region.currentHeader()
        guard let mine, mine.tag == tag else {
            throw .regionMismatch("both are \(size) bytes but hold different memory: the host wrote tag \(RegionHeader(size: size, tag: tag).tagHex), the guest reads \(mine?.tagHex ?? "no header") in \(region.path)")
        }
        active = true
        stats.regionLinks += 1
        Log.info("shared region agreed with the host: \(region.path), \(size) bytes; pixels are written there, not sent")
    }

    /// The link ended: the host dropped every registration with it.
    func linkClosed() {
        if active { stats.regionLinks -= 1 }
        forget()
    }

    private func forget() {
        generation += 1
        active = false
        link = nil
        allocator.reset()
        stats.registeredBuffers -= registered.count
        registered.removeAll()
        nextBufferID = 1
    }

    /// A chunk of at least `size` bytes for a client pool, or nil if the region is full.
    func allocateChunk(_ size: UInt64) -> RegionPool.Chunk? {
        guard active, let offset = allocator.allocate(size) else { return nil }
        return RegionPool.Chunk(offset: offset, size: allocator.allocationSize(at: offset)!, generation: generation)
    }

    /// Grows a chunk in place, if the bytes after it are free.
    func extendChunk(_ chunk: RegionPool.Chunk, to size: UInt64) -> Bool {
        guard chunk.generation == generation, allocator.extend(at: chunk.offset, to: size) else { return false }
        chunk.size = allocator.allocationSize(at: chunk.offset)!
        return true
    }

    /// Memory for a cooperative client's buffer (offset, or nil if full).
    func allocate(_ size: UInt64) -> UInt64? {
        guard active else { return nil }
        return allocator.allocate(size)
    }

    func release(_ offset: UInt64) { if active { allocator.release(offset) } }

    func releaseChunk(_ chunk: RegionPool.Chunk) {
        guard chunk.generation == generation else { return }
        allocator.release(chunk.offset)
    }

    /// Registers a buffer with the host and returns its id (nil if there is no active link).
    func register(application: String, range: MemoryRange, properties: [(String, String)]) -> UInt32? {
        guard active, let link else { return nil }
        var id = nextBufferID
        while registered.contains(id) || id == 0 { id &+= 1 }
        nextBufferID = id &+ 1
        let descriptor = BufferDescriptor(id: id, application: String(application.utf8.prefix(200)) ?? "client",
                                          ranges: [range], properties: properties)
        link.send(.bufferRegister(descriptor))
        registered.insert(id)
        stats.registeredBuffers += 1
        return id
    }

    func unregister(_ id: UInt32) {
        guard registered.remove(id) != nil else { return }
        stats.registeredBuffers -= 1
        link?.send(.bufferUnregister(id: id))
    }

    /// The range to register for bytes [offset, offset + length): widened to
    /// the registry's alignment (pool chunks are page-aligned, so it stays inside).
    static func registrationRange(offset: UInt64, length: UInt64, alignment: UInt64 = RegistryLimits().alignment) -> MemoryRange {
        let start = offset & ~(alignment - 1)
        let end = (offset + length + alignment - 1) & ~(alignment - 1)
        return MemoryRange(offset: start, length: end - start)
    }
}

/// A client's wl_shm_pool whose host-side twin is the shared region.
///
/// An ordinary client's pool gets a chunk of the region as its copy: pool
/// offset `o` is region offset `chunk.offset + o`, and commits copy changed
/// damaged bytes from the client's memory into the chunk. A resize the chunk
/// cannot absorb in place moves new buffers to a new chunk; buffers made
/// earlier keep theirs until destroyed.
///
/// A cooperative client's pool is the region itself (the client mapped it):
/// nothing is copied, offsets pass unchanged.
final class RegionPool {
    /// A piece of the region holding a copy of the pool.
    final class Chunk {
        let offset: UInt64
        var size: UInt64
        /// The link generation it was allocated in.
        let generation: Int
        /// Buffers made while this was the current chunk and not destroyed.
        var buffers = 0
        init(offset: UInt64, size: UInt64, generation: Int) {
            self.offset = offset
            self.size = size
            self.generation = generation
        }
    }

    let resourceID: UInt32
    private let clientFD: OwnedFD?
    /// The client's memory (nil for a cooperative pool).
    private(set) var client: SharedMapping?
    /// The client's pool size.
    private(set) var size: Int
    /// Chunks, the current one last (empty for a cooperative pool).
    private(set) var chunks: [Chunk]
    /// The size the host's wl_shm_pool has been given (it may only grow).
    var hostPoolSize: Int
    var poolAlive = true
    var bufferCount = 0
    /// Commits left to copy without comparing first: when nearly every
    /// damaged byte changed last time, comparing only costs a second read.
    var blindCommits = 0

    var cooperative: Bool { client == nil }
    var current: Chunk? { chunks.last }

    /// A pool copied into `chunk`.
    init(resourceID: UInt32, clientFD: OwnedFD, size: Int, chunk: Chunk) throws(SystemError) {
        self.resourceID = resourceID
        self.clientFD = clientFD
        self.size = size
        client = try SharedMapping(fd: clientFD, size: size, writable: false)
        chunks = [chunk]
        hostPoolSize = Int(chunk.offset + chunk.size)
    }

    /// A cooperative pool: the client's fd is the region.
    init(cooperativeResourceID rid: UInt32, size: Int) {
        resourceID = rid
        clientFD = nil
        client = nil
        self.size = size
        chunks = []
        hostPoolSize = size
    }

    func clientFileSize() -> Int { (try? clientFD?.fileSize()) ?? 0 }

    /// Maps more of the client's file after a resize.
    func growClient(to newSize: Int) throws(SystemError) {
        try client?.grow(to: newSize)
        size = newSize
    }

    func adoptChunk(_ c: Chunk) { chunks.append(c) }

    /// Chunks no buffer uses any more, other than the current one; removed from the pool.
    func takeIdleChunks(includingCurrent: Bool) -> [Chunk] {
        var idle: [Chunk] = []
        var kept: [Chunk] = []
        for (i, c) in chunks.enumerated() {
            let isCurrent = i == chunks.count - 1
            if c.buffers == 0 && (!isCurrent || includingCurrent) { idle.append(c) } else { kept.append(c) }
        }
        chunks = kept
        return idle
    }

    var isUnused: Bool { !poolAlive && bufferCount == 0 }
}
