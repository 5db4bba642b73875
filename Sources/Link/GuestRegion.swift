import PortholeSystem
import Sharing

/// The guest's use of a shared region on the current link: whether both
/// proxies agreed they map the same memory, the allocator that places client
/// pools in it, and the buffers registered with the host. Everything here
/// belongs to one link and is forgotten when it ends (the host frees its side
/// then too).
public final class GuestRegion {
    public let region: SharedRegion
    let counters: LinkCounters
    public private(set) var allocator: RegionAllocator
    /// Both proxies exchanged matching region info on this link.
    public private(set) var active = false
    private weak var link: LinkEndpoint?
    private var nextBufferID: UInt32 = 1
    private(set) var registered: Set<UInt32> = []
    /// Counts links, so a chunk of an earlier link is never freed into this one's allocator.
    private var generation = 0

    public init(region: SharedRegion, counters: LinkCounters) {
        self.region = region
        self.counters = counters
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
        counters.regionLinks += 1
        Log.info("shared region agreed with the host: \(region.path), \(size) bytes; pixels are written there, not sent")
    }

    /// The link ended: the host dropped every registration with it.
    func linkClosed() {
        if active { counters.regionLinks -= 1 }
        forget()
    }

    private func forget() {
        generation += 1
        active = false
        link = nil
        allocator.reset()
        counters.registeredBuffers -= registered.count
        registered.removeAll()
        nextBufferID = 1
    }

    /// A chunk of at least `size` bytes for a client pool, or nil if the region is full.
    public func allocateChunk(_ size: UInt64) -> RegionChunk? {
        guard active, let offset = allocator.allocate(size) else { return nil }
        return RegionChunk(offset: offset, size: allocator.allocationSize(at: offset)!, generation: generation)
    }

    /// Grows a chunk in place, if the bytes after it are free.
    public func extendChunk(_ chunk: RegionChunk, to size: UInt64) -> Bool {
        guard chunk.generation == generation, allocator.extend(at: chunk.offset, to: size) else { return false }
        chunk.size = allocator.allocationSize(at: chunk.offset)!
        return true
    }

    /// Memory for a cooperative client's buffer (offset, or nil if full).
    public func allocate(_ size: UInt64) -> UInt64? {
        guard active else { return nil }
        return allocator.allocate(size)
    }

    public func release(_ offset: UInt64) { if active { allocator.release(offset) } }

    public func releaseChunk(_ chunk: RegionChunk) {
        guard chunk.generation == generation else { return }
        allocator.release(chunk.offset)
    }

    /// Registers a buffer with the host and returns its id (nil if there is no active link).
    public func register(application: String, range: MemoryRange, properties: [(String, String)]) -> UInt32? {
        guard active, let link else { return nil }
        var id = nextBufferID
        while registered.contains(id) || id == 0 { id &+= 1 }
        nextBufferID = id &+ 1
        let descriptor = BufferDescriptor(id: id, application: String(application.utf8.prefix(200)) ?? "client",
                                          ranges: [range], properties: properties)
        link.send(.bufferRegister(descriptor))
        registered.insert(id)
        counters.registeredBuffers += 1
        return id
    }

    public func unregister(_ id: UInt32) {
        guard registered.remove(id) != nil else { return }
        counters.registeredBuffers -= 1
        link?.send(.bufferUnregister(id: id))
    }

    /// The range to register for bytes [offset, offset + length): widened to
    /// the registry's alignment (pool chunks are page-aligned, so it stays inside).
    public static func registrationRange(offset: UInt64, length: UInt64, alignment: UInt64 = RegistryLimits().alignment) -> MemoryRange {
        let start = offset & ~(alignment - 1)
        let end = (offset + length + alignment - 1) & ~(alignment - 1)
        return MemoryRange(offset: start, length: end - start)
    }
}
