import Link
import PortholeSystem
import Wayland

/// A guest client's wl_shm pools and wl_buffers: how each pool reaches the
/// host (mirrored over the link, or placed in the shared region), the
/// buffers made from them, and what each buffer missed since it was last
/// shown (`DamageHistory`).
final class ClientPools {
    let region: GuestRegion?
    let stats: ProxyStats
    /// The client program's name, a property of its registered buffers.
    private let application: String
    private var pools: [UInt32: ClientPool] = [:]
    private(set) var buffers: [UInt32: ShmBuffer] = [:]
    private(set) var history = DamageHistory()

    /// Faults new pools' mirrors in ahead of their first copies (nil: the copies do).
    private let prefaulter: MirrorPrefaulter?

    init(region: GuestRegion?, stats: ProxyStats, application: String, prefaulter: MirrorPrefaulter? = nil) {
        self.region = region
        self.stats = stats
        self.application = application
        self.prefaulter = prefaulter
    }

    // MARK: Pools

    /// wl_shm.create_pool: maps the client's fd and opens the pool's resource.
    func createPool(_ fd: OwnedFD, request: WlShmCreatePool, shmID: UInt32, channel: LinkChannel) throws(MessageFault) -> UInt32 {
        let size = request.size
        guard size > 0, UInt64(size) <= channel.limits.maxResourceSize else {
            throw .shm(.invalidStride, object: shmID, "invalid pool size \(size)")
        }
        let fileSize = (try? fd.fileSize()) ?? -1
        guard fileSize >= Int(size) else {
            throw .shm(.invalidFD, object: shmID, "pool fd holds \(fileSize) bytes, pool wants \(size)")
        }
        if let region, region.active, let placed = try placeInRegion(fd, size: Int(size), shmID: shmID, channel: channel) {
            pools[request.id] = placed
            return placed.resourceID
        }
        let rid: UInt32
        do { rid = try channel.openResource(kind: .shmPool, size: UInt64(size)) } catch { throw .implementation(error.reason) }
        do {
            let pool = try StreamPool(resourceID: rid, client: .shm(fd), size: Int(size))
            pool.prefaulter = prefaulter
            pools[request.id] = pool
        } catch {
            channel.closeResource(rid)
            throw .shm(.invalidFD, object: shmID, "cannot map pool fd: \(error)")
        }
        return rid
    }

    /// Puts a new pool in the shared region: as is, when the client's fd is
    /// the region (a cooperative client), else in a chunk of its own. Nil when
    /// the region is full (the pool is then mirrored over the link).
    private func placeInRegion(_ fd: OwnedFD, size: Int, shmID: UInt32, channel: LinkChannel) throws(MessageFault) -> RegionPool? {
        guard let region else { return nil }
        let regionSize = region.region.size
        let makePool: (UInt32) throws(MessageFault) -> RegionPool
        if region.region.isSameFile(fd) {
            guard size <= regionSize else {
                throw .shm(.invalidStride, object: shmID, "pool of \(size) bytes on a \(regionSize)-byte shared region")
            }
            makePool = { rid in RegionPool(cooperativeResourceID: rid, region: region, size: size) }
        } else {
            guard let chunk = region.allocateChunk(UInt64(size)) else {
                stats.fallbackPools += 1
                Log.info("\(channel.name): shared region full (\(region.allocator.largestFree) bytes free in one piece); pool of \(size) bytes is copied over the link")
                return nil
            }
            makePool = { rid throws(MessageFault) in
                do { return try RegionPool(resourceID: rid, region: region, client: .shm(fd), size: size, chunk: chunk) } catch {
                    region.releaseChunk(chunk)
                    throw .shm(.invalidFD, object: shmID, "cannot map pool fd: \(error)")
                }
            }
        }
        let rid: UInt32
        do { rid = try channel.openResource(kind: .region, size: UInt64(regionSize)) } catch { throw .implementation(error.reason) }
        do {
            let pool = try makePool(rid)
            stats.regionPools += 1
            return pool
        } catch {
            channel.closeResource(rid)
            throw error
        }
    }

    /// A pool made by other means than wl_shm.create_pool (a dma-buf's).
    func adopt(_ pool: ClientPool, id: UInt32) { pools[id] = pool }

    /// The size the host's twin of a region pool is created with (it spans the
    /// region up to the end of its chunk); nil for other pools.
    func hostPoolSize(_ poolID: UInt32) -> Int? {
        guard let p = pools[poolID] as? RegionPool, !p.cooperative else { return nil }
        return p.hostPoolSize
    }

    /// wl_shm_pool.resize. Returns the size the host's pool gets instead, if it differs.
    func resize(_ poolID: UInt32, to size: Int32, channel: LinkChannel) throws(MessageFault) -> Int32? {
        guard let pool = pools[poolID] else { return nil }
        markBuffersWhole(of: pool)
        if let p = pool as? RegionPool {
            try p.resize(to: Int(size), sender: poolID)
            return Int32(clamping: p.hostPoolSize)
        }
        guard let p = pool as? StreamPool else { return nil }
        guard Int(size) >= p.size, UInt64(size) <= channel.limits.maxResourceSize else {
            throw .shm(.invalidStride, object: poolID, "pool cannot shrink or exceed the limit (\(p.size) -> \(size))")
        }
        guard p.clientFileSize() >= Int(size) else {
            throw .shm(.invalidFD, object: poolID, "pool fd is smaller than the new size \(size)")
        }
        if Int(size) > p.size {
            do { try p.grow(to: Int(size), channel: channel) } catch {
                throw .shm(.invalidFD, object: poolID, "cannot map grown pool: \(error)")
            }
            channel.extendResource(p.resourceID, to: UInt64(size))
        }
        return nil
    }

    /// wl_shm_pool.destroy: the pool's memory lives on while buffers use it.
    func destroyPool(_ poolID: UInt32, channel: LinkChannel) {
        guard let pool = pools.removeValue(forKey: poolID) else { return }
        pool.poolAlive = false
        releaseIfUnused(pool, channel: channel)
    }

    private func releaseIfUnused(_ pool: ClientPool, channel: LinkChannel) {
        guard pool.isUnused else { return }
        (pool as? RegionPool)?.releaseIdleChunks(all: true)
        channel.closeResource(pool.resourceID)
    }

    /// After a pool resize, the next commit of each of its buffers compares all of it.
    private func markBuffersWhole(of pool: ClientPool) {
        for (bid, b) in buffers where b.pool === pool { history.markWhole(bid) }
    }

    // MARK: Buffers

    /// wl_shm_pool.create_buffer, checked against the pool. Returns the
    /// request as the host gets it (a region pool's offset becomes a region offset).
    /// `yInverted`: a dma-buf stored bottom row first (see `ShmBuffer.yInverted`).
    func createBuffer(_ r: WlShmPoolCreateBuffer, poolID: UInt32, yInverted: Bool = false) throws(MessageFault) -> WlShmPoolCreateBuffer {
        guard let pool = pools[poolID] else { throw .invalidObject("create_buffer on pool \(poolID), which this proxy does not know") }
        guard r.width > 0, r.height > 0, r.stride > 0, r.offset >= 0 else {
            throw .shm(.invalidStride, object: poolID, "invalid width, height, stride or offset (\(r.width)x\(r.height), stride \(r.stride), offset \(r.offset))")
        }
        if let bpp = bytesPerPixel(shmFormat: r.format), Int64(r.stride) < Int64(r.width) * Int64(bpp) {
            throw .shm(.invalidStride, object: poolID, "stride \(r.stride) is less than width \(r.width) x \(bpp) bytes")
        }
        guard Int64(r.offset) + Int64(r.stride) * Int64(r.height) <= Int64(pool.size) else {
            throw .shm(.invalidStride, object: poolID, "buffer (offset \(r.offset), stride \(r.stride), height \(r.height)) lies outside the pool of \(pool.size) bytes")
        }
        var made = ShmBuffer(pool: pool, offset: Int(r.offset), width: Int(r.width), height: Int(r.height), stride: Int(r.stride), format: r.format)
        made.yInverted = yInverted
        var forHost = r
        pool.bufferCount += 1
        if let p = pool as? RegionPool, let chunk = p.current {
            chunk.buffers += 1
            let regionOffset = chunk.offset + UInt64(r.offset)
            let length = UInt64(r.stride) * UInt64(r.height)
            made.chunk = chunk
            made.registration = region?.register(
                application: application,
                range: GuestRegion.registrationRange(offset: regionOffset, length: length),
                properties: [("width", "\(r.width)"), ("height", "\(r.height)"), ("stride", "\(r.stride)"),
                             ("format", "\(r.format)"), ("offset", "\(regionOffset)")])
            forHost.offset = Int32(regionOffset)
        }
        // Buffers sharing pool bytes: their damage says nothing about each other's bytes.
        var aliased = false
        for (other, ob) in buffers where other != r.id && ob.pool === pool && ob.overlaps(made) {
            aliased = true
            history.markAliased(other)
        }
        buffers[r.id] = made
        history.created(r.id, aliased: aliased)
        return forHost
    }

    /// wl_buffer.destroy. The caller flushed what was queued before it.
    func destroyBuffer(_ bid: UInt32, channel: LinkChannel) {
        guard let b = buffers.removeValue(forKey: bid) else { return }
        history.destroyed(bid)
        if let registration = b.registration { region?.unregister(registration) }
        b.chunk?.buffers -= 1
        b.pool.bufferCount -= 1
        (b.pool as? RegionPool)?.releaseIdleChunks(all: false)
        releaseIfUnused(b.pool, channel: channel)
    }

    /// The damage to sync for a commit of `bufferID` on a surface.
    func commit(surface serial: UInt64, buffer bufferID: UInt32?, geometry: CommitGeometry, damage: [Rect]) -> [Rect] {
        history.commit(surface: serial, buffer: bufferID, geometry: geometry, damage: damage)
    }

    func surfaceDestroyed(_ serial: UInt64) { history.surfaceDestroyed(serial) }

    /// The connection closed (the host dropped its buffers with the channel): give the memory back.
    func releaseAll() {
        for b in buffers.values {
            if let r = b.registration { region?.unregister(r) }
            b.chunk?.buffers -= 1
        }
        // Pools destroyed while buffers used them are reached through the buffers.
        var seen: Set<ObjectIdentifier> = []
        for pool in Array(pools.values) + buffers.values.map(\.pool) where seen.insert(ObjectIdentifier(pool)).inserted {
            (pool as? RegionPool)?.releaseIdleChunks(all: true)
        }
        buffers.removeAll()
        pools.removeAll()
    }
}
