import Link
import PortholeSystem
import Sharing
import Wayland

/// A dma-buf buffer reaches the host as a wl_shm pool of its own, replicated
/// like any pool: mirrored over the link, or copied into a chunk of the
/// shared region. The host's pool is made when the client makes its
/// zwp_linux_buffer_params_v1 (its id is the pool's), before the size is
/// known, so it starts at one page and grows at create_immed.
extension ClientPools {
    /// The host pool's size when it is made.
    static let dmabufPlaceholderSize = 4096

    /// The resource a params' host pool is made on: the region (which the
    /// host's pool may span up to the buffer's chunk) or a one-page pool.
    func openDmabufPoolResource(channel: LinkChannel) throws(MessageFault) -> (resource: UInt32, inRegion: Bool) {
        do {
            if let region, region.active {
                return (try channel.openResource(kind: .region, size: UInt64(region.region.size)), true)
            }
            return (try channel.openResource(kind: .shmPool, size: UInt64(Self.dmabufPlaceholderSize)), false)
        } catch { throw .implementation(error.reason) }
    }

    /// create_immed: the pool `poolID` now reads `size` bytes of the dma-buf
    /// `file`. Returns the size the host's pool must grow to (a
    /// wl_shm_pool.resize to send before the buffer), or nil.
    func makeDmabufPool(_ file: ClientFile, size: Int, resource: UInt32, inRegion: Bool, poolID: UInt32,
                        channel: LinkChannel) throws(MessageFault) -> Int32? {
        if inRegion {
            guard let region, region.active else { throw .implementation("the shared region went away") }
            guard let chunk = region.allocateChunk(UInt64(size)) else {
                throw .display(.noMemory, "shared region full: no room for a dma-buf buffer of \(size) bytes (\(region.allocator.largestFree) bytes free in one piece)")
            }
            let pool: RegionPool
            do { pool = try RegionPool(resourceID: resource, region: region, client: file, size: size, chunk: chunk) } catch {
                region.releaseChunk(chunk)
                throw DmabufParamsErrorCode.fault(.invalidWlBuffer, object: poolID, "cannot map the dma-buf: \(error)")
            }
            stats.regionPools += 1
            adopt(pool, id: poolID)
            return pool.hostPoolSize > Self.dmabufPlaceholderSize ? Int32(pool.hostPoolSize) : nil
        }
        let pool: StreamPool
        do { pool = try StreamPool(resourceID: resource, client: file, size: size) } catch {
            throw DmabufParamsErrorCode.fault(.invalidWlBuffer, object: poolID, "cannot map the dma-buf: \(error)")
        }
        adopt(pool, id: poolID)
        guard size > Self.dmabufPlaceholderSize else { return nil }
        channel.extendResource(resource, to: UInt64(size))
        return Int32(size)
    }
}
