import Link
import Wayland

/// The host's checks of a guest's wl_shm use: every pool against the
/// resource behind it, every resize and buffer against its pool, and
/// buffers in the shared region only inside memory the guest registered.
/// The compositor is never asked to read past what the guest provided.
struct ShmPolicy {
    /// wl_shm_pool id -> backing resource and the pool's size.
    private var pools: [UInt32: (resource: UInt32, size: Int64)] = [:]
    /// Pools whose memory is the shared region.
    private var regionPools: Set<UInt32> = []
    /// Formats the compositor advertised and the guest was shown.
    private var formats: Set<UInt32> = []

    /// wl_shm.format from the compositor: shown to the guest only if the
    /// host knows its bytes per pixel, since a buffer is checked against its
    /// pool as stride x height (a multi-planar format such as NV12 needs
    /// more, which the compositor would read past the pool).
    mutating func formatAdvertised(_ e: WlShmFormat) -> Bool {
        guard bytesPerPixel(shmFormat: e.format) != nil else { return false }
        formats.insert(e.format)
        return true
    }

    /// wl_shm.create_pool, with the resource standing for its fd.
    mutating func createPool(_ r: WlShmCreatePool, shmID: UInt32, resource rid: UInt32, channel: LinkChannel) throws(MessageFault) {
        guard r.size > 0 else { throw .shm(.invalidStride, object: shmID, "invalid pool size \(r.size)") }
        let backing = Int64(channel.resourceSize(rid) ?? 0)
        guard Int64(r.size) <= backing else {
            throw .shm(.invalidStride, object: shmID, "pool of \(r.size) bytes on a \(backing)-byte resource")
        }
        pools[r.id] = (rid, Int64(r.size))
        if channel.isSharedRegion(rid) { regionPools.insert(r.id) } else { regionPools.remove(r.id) }
    }

    /// wl_shm_pool.resize: grows only, within the resource.
    mutating func resize(_ r: WlShmPoolResize, poolID: UInt32, channel: LinkChannel) throws(MessageFault) {
        guard let p = pools[poolID] else { return }
        guard Int64(r.size) >= p.size else { throw .shm(.invalidStride, object: poolID, "pool cannot shrink") }
        let backing = Int64(channel.resourceSize(p.resource) ?? 0)
        guard Int64(r.size) <= backing else {
            throw .shm(.invalidStride, object: poolID, "pool resized to \(r.size) bytes beyond its \(backing)-byte resource")
        }
        pools[poolID]?.size = Int64(r.size)
    }

    /// wl_shm_pool.create_buffer: inside the pool, a stride that holds a row,
    /// and in the shared region inside a registered buffer, whose id it
    /// returns (nil for a buffer outside the region).
    @discardableResult
    func createBuffer(_ r: WlShmPoolCreateBuffer, poolID: UInt32, registry: BufferRegistryView?) throws(MessageFault) -> UInt32? {
        // argb8888 and xrgb8888 need no announcement: every compositor has them.
        guard r.format <= 1 || formats.contains(r.format) else {
            throw .shm(.invalidFormat, object: poolID, "format 0x\(String(r.format, radix: 16)) was not advertised")
        }
        guard let p = pools[poolID] else { return nil }
        guard r.offset >= 0, r.width > 0, r.height > 0, r.stride > 0, Int64(r.offset) + Int64(r.stride) * Int64(r.height) <= p.size else {
            throw .shm(.invalidStride, object: poolID, "buffer outside the pool (offset \(r.offset), \(r.width)x\(r.height), stride \(r.stride), pool \(p.size))")
        }
        if let bpp = bytesPerPixel(shmFormat: r.format), Int64(r.stride) < Int64(r.width) * Int64(bpp) {
            throw .shm(.invalidStride, object: poolID, "stride \(r.stride) is less than width \(r.width) x \(bpp) bytes")
        }
        if regionPools.contains(poolID) {
            let length = UInt64(r.stride) * UInt64(r.height)
            guard let registry, let registration = registry.registration(containing: UInt64(r.offset), length: length) else {
                throw .shm(.invalidStride, object: poolID, "buffer at shared-region offset \(r.offset) (\(length) bytes) is not inside a registered buffer")
            }
            return registration
        }
        return nil
    }

    mutating func destroyPool(_ poolID: UInt32) {
        pools.removeValue(forKey: poolID)
        regionPools.remove(poolID)
    }
}
