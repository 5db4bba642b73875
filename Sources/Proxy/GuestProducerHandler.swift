import BufferService
import Link
import PortholeSystem
import Wayland

/// The guest side of a buffer producer's connection (a channel for the
/// host's buffer service, docs/buffer-sharing.md). The producer's memory
/// file becomes a pool resource mirrored like a wl_shm pool; `publish`
/// and each `present` record a sync that runs just before the data frame
/// carrying them, so the host has the bytes before its service hears of
/// them. Everything else is forwarded as it is; the host checks it all.
final class GuestProducerHandler: ConnectionHandler {
    private var buffers: [UInt32: ReplicatedBuffer] = [:]
    private var syncs = PoolSyncQueue()
    private let stats: ProxyStats

    init(stats: ProxyStats) { self.stats = stats }

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
            buffers[r.id] = ReplicatedBuffer(pool: try StreamPool(resourceID: rid, clientFD: fd, size: end), offset: Int(r.offset), size: Int(r.size))
        } catch {
            c.channel.closeResource(rid)
            throw MessageFault(objectID: message.sender, code: ProducerErrorCode.badFD.rawValue, message: "cannot map the fd: \(error)")
        }
        return rid
    }

    func outgoing(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        let sender = m.sender
        switch m.spec.kind {
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
        default:
            break
        }
        return .forward
    }

    private func record(_ b: ReplicatedBuffer, _ id: UInt32, rects: [Rect]) {
        guard !rects.isEmpty else { return }
        syncs.record(b.image, bufferID: id, rects: rects, exclusive: true)
    }

    func incoming(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict { .forward }

    func flushPending(on c: WaylandConnection) throws(MessageFault) {
        try syncs.flush(channel: c.channel, stats: stats)
    }

    func closed(on c: WaylandConnection) {
        syncs.discard()
        buffers.removeAll()
    }
}
