import BufferService
import Link
import PortholeSystem
import Sharing
import Wayland

/// The guest side of a buffer producer's connection (a channel for the
/// host's buffer service, docs/buffer-sharing.md). The producer's memory
/// file becomes a pool resource mirrored like a wl_shm pool; `publish`
/// and each `present` record a sync that runs just before the data frame
/// carrying them, so the host has the bytes before its service hears of
/// them. An `allocate` instead carves the buffer out of the shared region:
/// the producer gets the region's fd and draws there, and nothing of it is
/// ever copied (`register_region` tells the host which registration it
/// is). An `allocate_shared` goes to the host as `register_common` with the
/// tag of the sharing region this guest maps with others; the host places
/// the buffer and the producer gets that region's fd and the offset.
/// Everything else is forwarded as it is; the host checks it all.
final class GuestProducerHandler: ConnectionHandler {
    /// A buffer allocated in the region: its chunk and its registration.
    private struct RegionAllocation {
        let chunk: RegionChunk
        let registration: UInt32
    }

    private var buffers: [UInt32: ReplicatedBuffer] = [:]
    private var allocations: [UInt32: RegionAllocation] = [:]
    private var syncs = PoolSyncQueue()
    private let stats: ProxyStats
    private let region: GuestRegion?
    /// The sharing region of several guests (`--shared-region`).
    private let common: SharedRegion?
    /// Buffers of `allocate_shared` the host has not placed yet, with their size.
    private var unplaced: [UInt32: UInt32] = [:]

    /// Faults the buffers' mirrors in ahead of their first copies (nil: the copies do).
    private let prefaulter: MirrorPrefaulter?

    init(stats: ProxyStats, region: GuestRegion?, common: SharedRegion? = nil, prefaulter: MirrorPrefaulter? = nil) {
        self.stats = stats
        self.region = region
        self.common = common
        self.prefaulter = prefaulter
    }

    func poolResource(for fd: OwnedFD, message: ParsedMessage, on c: WaylandConnection) throws(MessageFault) -> UInt32 {
        guard message.spec.kind == .portholeBufferProducerV1Register else {
            throw .implementation("\(message.name) carries an fd, which a buffer producer may not send")
        }
        let r = try message.typed(PortholeBufferProducerV1Register.self)
        let end = Int(r.offset) + Int(r.size)
        guard r.size > 0, UInt64(end) <= c.channel.limits.maxResourceSize else {
            throw MessageFault(objectID: message.sender, code: ProducerErrorCode.badRange.rawValue,
                               message: "buffer \(r.offset)+\(r.size) is empty or larger than \(c.channel.limits.maxResourceSize) bytes")
        }
        let fileSize = (try? fd.fileSize()) ?? -1
        guard fileSize >= end else {
            throw MessageFault(objectID: message.sender, code: ProducerErrorCode.badRange.rawValue,
                               message: "buffer \(r.offset)+\(r.size) ends past the file's \(fileSize) bytes")
        }
        let rid: UInt32
        do { rid = try c.channel.openResource(kind: .shmPool, size: UInt64(end)) } catch { throw .implementation(error.reason) }
        do {
            let pool = try StreamPool(resourceID: rid, client: .shm(fd), size: end)
            pool.prefaulter = prefaulter
            buffers[r.id] = ReplicatedBuffer(pool: pool, offset: Int(r.offset), size: Int(r.size))
        } catch {
            c.channel.closeResource(rid)
            throw MessageFault(objectID: message.sender, code: ProducerErrorCode.badFD.rawValue, message: "cannot map the fd: \(error)")
        }
        return rid
    }

    func outgoing(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        let sender = m.sender
        switch m.spec.kind {
        case .portholeBufferProducerV1Allocate?:
            m.bytes = try allocate(try m.typed(PortholeBufferProducerV1Allocate.self), producer: sender, on: c)
        case .portholeBufferProducerV1RegisterRegion?:
            throw .invalidMethod(sender, "register_region is the guest proxy's own request: producers send allocate")
        case .portholeBufferProducerV1AllocateShared?:
            let a = try m.typed(PortholeBufferProducerV1AllocateShared.self)
            guard let common, let header = common.currentHeader() else {
                throw MessageFault(objectID: sender, code: ProducerErrorCode.noRegion.rawValue,
                                   message: "this guest maps no sharing region (porthole guest --shared-region)")
            }
            unplaced[a.id] = a.size
            m.bytes = PortholeBufferProducerV1RegisterCommon(id: a.id, size: a.size, application: a.application, tag: header.tag)
                .encode(objectID: sender)
        case .portholeBufferProducerV1RegisterCommon?:
            throw .invalidMethod(sender, "register_common is the guest proxy's own request: producers send allocate_shared")
        case .portholeBufferProducerV1Reset?, .portholeBufferProducerV1Destroy?:
            for b in buffers.values { b.inert = true }
        case .portholeBufferV1SetProperty?:
            let p = try m.typed(PortholeBufferV1SetProperty.self)
            buffers[sender]?.property(String(decoding: p.name, as: UTF8.self), String(decoding: p.value, as: UTF8.self))
        case .portholeBufferV1Publish?:
            if let b = buffers[sender], !b.inert, !b.published {
                b.published = true
                record(b, sender, rects: b.takeDamage(whole: true))
            }
        case .portholeBufferV1Update?:
            let u = try m.typed(PortholeBufferV1Update.self)
            buffers[sender]?.damage(x: u.x, y: u.y, width: u.width, height: u.height)
        case .portholeBufferV1Present?:
            if let b = buffers[sender], b.published, !b.inert { record(b, sender, rects: b.takeDamage()) }
        case .portholeBufferV1Destroy?:
            // Earlier messages and syncs go before the memory is given back.
            c.channel.flush()
            if let b = buffers.removeValue(forKey: sender) { c.channel.closeResource(b.pool.resourceID) }
            free(sender)
        default:
            break
        }
        return .forward
    }

    /// Carves the buffer out of the region, registers it with the host,
    /// answers the producer with `memory`, and returns the `register_region`
    /// that goes to the host in the allocate's place.
    private func allocate(_ a: PortholeBufferProducerV1Allocate, producer: UInt32, on c: WaylandConnection) throws(MessageFault) -> [UInt8] {
        func refused(_ why: String) -> MessageFault {
            MessageFault(objectID: producer, code: ProducerErrorCode.noRegion.rawValue, message: why)
        }
        guard let region, region.active else { throw refused("no shared region on this link: register a memfd instead") }
        guard a.size > 0 else {
            throw MessageFault(objectID: producer, code: ProducerErrorCode.badRange.rawValue, message: "a buffer of 0 bytes")
        }
        guard let chunk = region.allocateChunk(UInt64(a.size)) else {
            throw refused("shared region full: \(a.size) bytes asked, \(region.allocator.largestFree) free in one piece")
        }
        let fd: OwnedFD
        do { fd = try region.region.fd.duplicate() } catch {
            region.releaseChunk(chunk)
            throw .implementation("cannot pass the region: \(error)")
        }
        guard let registration = region.register(
            application: String(decoding: a.application, as: UTF8.self),
            range: GuestRegion.registrationRange(offset: chunk.offset, length: UInt64(a.size)),
            properties: [(BufferService.producerRegistrationProperty, "1")]) else {
            region.releaseChunk(chunk)
            throw refused("the shared region is no longer agreed on this link")
        }
        allocations[a.id] = RegionAllocation(chunk: chunk, registration: registration)
        c.sendToSocket(PortholeBufferV1Memory(offset: UInt32(chunk.offset), regionSize: UInt32(region.region.size)).encode(objectID: a.id), fds: [fd])
        return PortholeBufferProducerV1RegisterRegion(id: a.id, registration: registration, size: a.size, application: a.application)
            .encode(objectID: producer)
    }

    /// Gives a region buffer's memory back: the host drops the buffer when
    /// its registration goes, before the chunk can be handed out again.
    private func free(_ id: UInt32) {
        guard let a = allocations.removeValue(forKey: id), let region else { return }
        region.unregister(a.registration)
        region.releaseChunk(a.chunk)
    }

    private func record(_ b: ReplicatedBuffer, _ id: UInt32, rects: [Rect]) {
        guard !rects.isEmpty else { return }
        syncs.record(b.image, bufferID: id, rects: rects, exclusive: true)
    }

    /// The host placed a buffer of `allocate_shared`: the producer gets this
    /// guest's fd of the sharing region and the offset, in a memory event.
    func incoming(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        guard m.spec.kind == .portholeBufferV1Placed else { return .forward }
        let p = try m.typed(PortholeBufferV1Placed.self)
        guard let size = unplaced.removeValue(forKey: m.sender), let common,
              UInt64(p.offset) + UInt64(size) <= UInt64(common.size), common.size <= Int(UInt32.max) else {
            throw .implementation("placed for a buffer this guest did not allocate in its sharing region, or outside it")
        }
        let fd: OwnedFD
        do { fd = try common.fd.duplicate() } catch { throw .implementation("cannot pass the sharing region: \(error)") }
        c.sendToSocket(PortholeBufferV1Memory(offset: p.offset, regionSize: UInt32(common.size)).encode(objectID: m.sender), fds: [fd])
        return .drop
    }

    func flushPending(on c: WaylandConnection) throws(MessageFault) {
        try syncs.flush(channel: c.channel, stats: stats)
    }

    func closed(on c: WaylandConnection) {
        syncs.discard()
        buffers.removeAll()
        for id in Array(allocations.keys) { free(id) }
    }
}
