import Link
import PortholeSystem
import Wayland

/// The guest side of a client's connection. Requests that create or change
/// pools, buffers and surfaces are recorded; a commit records a pool sync,
/// which runs just before the data frame carrying the commit. Requests to the
/// proxy's own globals go to `SharedMemoryExtension` and `LinuxDmabufExtension`.
final class GuestHandler: ConnectionHandler {
    private let pools: ClientPools
    private var surfaces = SurfaceTracker()
    private var syncs: PoolSyncQueue
    private let stats: ProxyStats
    /// porthole_shared_memory_v1, when the guest maps a region.
    private let sharedMemory: SharedMemoryExtension?
    /// zwp_linux_dmabuf_v1, when the guest offers it.
    private let dmabuf: LinuxDmabufExtension?
    private let placeholders: PlaceholderIDs
    private let region: GuestRegion?

    /// `dmabufDevice`: offer zwp_linux_dmabuf_v1, naming this DRM device
    /// (a dev_t, 0 for none) in feedback; nil: do not offer it.
    /// `offload`: where large region copies run (nil: on the loop, in slices).
    /// `prefaulter`: faults stream pools' mirrors in ahead of their first copies.
    init(region: GuestRegion?, stats: ProxyStats, application: String, dmabufDevice: UInt64? = nil, offload: SyncOffload? = nil,
         prefaulter: MirrorPrefaulter? = nil) {
        self.region = region
        syncs = PoolSyncQueue(offload: offload)
        self.stats = stats
        let pools = ClientPools(region: region, stats: stats, application: application, prefaulter: prefaulter)
        self.pools = pools
        let placeholders = PlaceholderIDs()
        self.placeholders = placeholders
        sharedMemory = region.map { SharedMemoryExtension(region: $0, application: application, placeholders: placeholders) }
        dmabuf = dmabufDevice.map { LinuxDmabufExtension(pools: pools, placeholders: placeholders, stats: stats, mainDevice: $0) }
    }

    func linkBytes(for m: ParsedMessage) -> Int { dmabuf?.linkBytes(for: m) ?? m.header.size }

    func keepsFd(_ fd: OwnedFD, of m: ParsedMessage) -> Bool { dmabuf?.keepsFd(fd, of: m) ?? false }

    func outgoing(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        if let ext = sharedMemory, let verdict = try ext.handle(&m, on: c) { return verdict }
        if let ext = dmabuf, let verdict = try ext.outgoing(&m, on: c, flush: { () throws(MessageFault) in try flushPending(on: c) }) {
            return verdict
        }
        let sender = m.sender
        switch m.spec.kind {
        case .wlShmCreatePool?:
            let r = try m.typed(WlShmCreatePool.self)
            if let size = pools.hostPoolSize(r.id) {
                var forHost = r
                forHost.size = Int32(clamping: size)
                m.rewrite(forHost)
            }
        case .wlShmPoolCreateBuffer?:
            let r = try m.typed(WlShmPoolCreateBuffer.self)
            let forHost = try pools.createBuffer(r, poolID: sender)
            if forHost.offset != r.offset { m.rewrite(forHost) }
        case .wlShmPoolResize?:
            let r = try m.typed(WlShmPoolResize.self)
            // Syncs recorded earlier read the pool as it is now.
            try flushPending(on: c)
            if let hostSize = try pools.resize(sender, to: r.size, channel: c.channel), hostSize != r.size {
                m.rewrite(WlShmPoolResize(size: hostSize))
            }
        case .wlShmPoolDestroy?:
            try flushPending(on: c)
            pools.destroyPool(sender, channel: c.channel)
        case .wlBufferDestroy?:
            // Earlier messages and syncs go before the buffer's memory is given back.
            c.channel.flush()
            pools.destroyBuffer(sender, channel: c.channel)
        case .wlCompositorCreateSurface?:
            surfaces.created(try m.typed(WlCompositorCreateSurface.self).id)
        case .wlSurfaceAttach?:
            surfaces.attach(sender, try m.typed(WlSurfaceAttach.self))
        case .wlSurfaceDamage?:
            let r = try m.typed(WlSurfaceDamage.self)
            surfaces.damage(sender, x: r.x, y: r.y, width: r.width, height: r.height, inBuffer: false)
        case .wlSurfaceDamageBuffer?:
            let r = try m.typed(WlSurfaceDamageBuffer.self)
            surfaces.damage(sender, x: r.x, y: r.y, width: r.width, height: r.height, inBuffer: true)
        case .wlSurfaceSetBufferScale?:
            surfaces.setScale(sender, try m.typed(WlSurfaceSetBufferScale.self))
        case .wlSurfaceSetBufferTransform?:
            surfaces.setTransform(sender, try m.typed(WlSurfaceSetBufferTransform.self))
        case .wlSurfaceCommit?:
            stats.commits += 1
            recordSync(surface: sender)
        case .wlSurfaceDestroy?:
            if let serial = surfaces.destroyed(sender) { pools.surfaceDestroyed(serial) }
        case .wpViewporterGetViewport?:
            surfaces.viewportCreated(try m.typed(WpViewporterGetViewport.self))
        case .wpViewportSetSource?:
            surfaces.setSource(viewport: sender, try m.typed(WpViewportSetSource.self))
        case .wpViewportSetDestination?:
            surfaces.setDestination(viewport: sender, try m.typed(WpViewportSetDestination.self))
        case .wpViewportDestroy?:
            surfaces.viewportDestroyed(sender)
        default:
            break
        }
        return .forward
    }

    /// A commit: record what the host must receive before it.
    private func recordSync(surface sid: UInt32) {
        let buffers = pools.buffers
        guard let commit = surfaces.commit(sid, size: { buffers[$0].map { ($0.width, $0.height) } }) else { return }
        let buffer = buffers[commit.bufferID]
        let rects = pools.commit(surface: commit.surfaceSerial, buffer: buffer == nil ? nil : commit.bufferID,
                                 geometry: commit.geometry, damage: commit.damage)
        guard let buffer, !rects.isEmpty else { return }
        let exclusive = pools.history.entries[commit.bufferID]?.aliased == false
        syncs.record(buffer, bufferID: commit.bufferID, rects: rects, exclusive: exclusive)
    }

    func flushPending(on c: WaylandConnection) throws(MessageFault) {
        try syncs.flush(channel: c.channel, stats: stats)
    }

    var hasSlicedWork: Bool { syncs.pendingBytes > SyncTuning.sliceBytes }

    func advancePending(on c: WaylandConnection) throws(MessageFault) -> SliceProgress {
        // Slices sent over the link wait while it holds a slice's worth
        // unsent: whatever another channel sends next queues behind no more.
        if c.channel.linkQueuedBytes > (c.channel.isOnLane ? SyncTuning.laneQueueLimit : SyncTuning.linkQueueLimit) { return .waitForLink }
        return try syncs.advance(budget: SyncTuning.sliceBytes, channel: c.channel, stats: stats) { [weak c] in c?.resumeSlicing() }
    }

    func poolResource(for fd: OwnedFD, message: ParsedMessage, on c: WaylandConnection) throws(MessageFault) -> UInt32 {
        try pools.createPool(fd, request: try message.typed(WlShmCreatePool.self), shmID: message.sender, channel: c.channel)
    }

    func incoming(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        // The end of a placeholder: the client's object of that id lives on.
        if m.spec.kind == .wlDisplayDeleteId, placeholders.end(try m.typed(WlDisplayDeleteId.self).id) {
            return .drop
        }
        if let ext = dmabuf, let verdict = try ext.incoming(&m, on: c) { return verdict }
        return .forward
    }

    func swallowsIncoming(objectID: UInt32) -> Bool {
        placeholders.contains(objectID)
    }

    func closed(on c: WaylandConnection) {
        syncs.discard()
        pools.releaseAll()
        sharedMemory?.freeAll()
    }
}
