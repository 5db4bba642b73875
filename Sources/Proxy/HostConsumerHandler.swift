import Link
import PortholeSystem
import Sharing
import Wayland

/// The host side of a guest consumer's channel (docs/buffer-sharing.md §8):
/// the other end of its socket is the buffer service, which sends this
/// guest's consumer what the host lets it see. Each view's file (the host's
/// copy of a producer's buffer, sealed) becomes a pool resource the host
/// owns, mirrored to the guest the way a guest mirrors a wl_shm pool to the
/// host: the whole buffer once its properties are known (`done`), then at
/// each `updated` only the damaged bytes that changed, sent before the data
/// frame carrying the event. A view of a sharing region this guest maps
/// too (`--shared-region`) is not copied: it becomes a resource standing for
/// the guest's own fd of that region, and nothing crosses the link for its
/// updates. Only the consumer global may be bound and no request may carry
/// an fd; the service checks the rest.
final class HostConsumerHandler: ConnectionHandler {
    static let consumerGlobal = "porthole_buffer_consumer_v1"

    /// Each view's mirrored file, by the view's object id.
    private var views: [UInt32: ReplicatedBuffer] = [:]
    /// Views read in place in a sharing region: their resources.
    private var sharedViews: [UInt32: UInt32] = [:]
    private var syncs = PoolSyncQueue()
    private let stats: ProxyStats
    private let guest: String
    /// The sharing regions this guest maps.
    private let commonRegions: [SharedRegion]

    /// Faults the views' mirrors in ahead of their first copies (nil: the copies do).
    private let prefaulter: MirrorPrefaulter?

    init(stats: ProxyStats, guest: String, commonRegions: [SharedRegion] = [], prefaulter: MirrorPrefaulter? = nil) {
        self.stats = stats
        self.guest = guest
        self.commonRegions = commonRegions
        self.prefaulter = prefaulter
    }

    /// A view's fd, from the service's `buffer_added`: a resource of the
    /// buffer's file up to its end, and a mirror of it.
    func poolResource(for fd: OwnedFD, message: ParsedMessage, on c: WaylandConnection) throws(MessageFault) -> UInt32 {
        let view: UInt32, id: UInt32, offset: UInt32, size: UInt32
        switch message.spec.kind {
        case .portholeBufferSubscriptionV1BufferAdded?:
            let a = try message.typed(PortholeBufferSubscriptionV1BufferAdded.self)
            (view, id, offset, size) = (a.buffer, a.id, a.offset, a.size)
        case .portholeBufferImportV1BufferAdded?:
            let a = try message.typed(PortholeBufferImportV1BufferAdded.self)
            (view, id, offset, size) = (a.buffer, a.id, a.offset, a.size)
        default:
            throw .implementation("\(message.name) carries an fd the buffer service does not send")
        }
        if let common = commonRegions.first(where: { $0.isSameFile(fd) }) {
            let rid: UInt32
            do { rid = try c.channel.openResource(kind: .commonRegion, size: UInt64(common.size)) } catch { throw .implementation(error.reason) }
            sharedViews[view] = rid
            stats.guestConsumerViewsShared += 1
            Log.info("\(guest): buffer \(id) reaches a consumer in the guest shared (read in place in \(common.path), nothing copied)")
            return rid
        }
        let end = Int(offset) + Int(size)
        guard size > 0, UInt64(end) <= c.channel.limits.maxResourceSize else {
            throw .implementation("buffer \(id) of \(offset)+\(size) bytes cannot be replicated (at most \(c.channel.limits.maxResourceSize))")
        }
        let rid: UInt32
        do { rid = try c.channel.openResource(kind: .shmPool, size: UInt64(end)) } catch { throw .implementation(error.reason) }
        do {
            let pool = try StreamPool(resourceID: rid, client: .shm(fd), size: end)
            pool.prefaulter = prefaulter
            views[view] = ReplicatedBuffer(pool: pool, offset: Int(offset), size: Int(size))
        } catch {
            c.channel.closeResource(rid)
            throw .implementation("cannot map buffer \(id): \(error)")
        }
        stats.guestConsumerViews += 1
        Log.info("\(guest): buffer \(id) reaches a consumer in the guest copied through the host (only changed bytes cross the link)")
        return rid
    }

    /// Events of the service, on their way to the guest's consumer.
    func outgoing(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        let sender = m.sender
        switch m.spec.kind {
        case .portholeBufferViewV1Property?:
            let p = try m.typed(PortholeBufferViewV1Property.self)
            views[sender]?.property(String(decoding: p.name, as: UTF8.self), String(decoding: p.value, as: UTF8.self))
        case .portholeBufferViewV1Done?:
            // The properties say how damage maps to bytes; the guest starts from the whole buffer.
            if let b = views[sender], !b.published {
                b.published = true
                record(b, sender, rects: b.takeDamage(whole: true))
            }
        case .portholeBufferViewV1Updated?:
            let u = try m.typed(PortholeBufferViewV1Updated.self)
            guard let b = views[sender] else { break }
            let rects = u.damage.count / 16
            if rects == 0 { b.damage(x: 0, y: 0, width: Int32.max, height: Int32.max) }
            for i in 0..<rects {
                let v = { (k: Int) -> Int32 in
                    let at = i * 16 + k * 4
                    return Int32(bitPattern: UInt32(u.damage[at]) | UInt32(u.damage[at + 1]) << 8 | UInt32(u.damage[at + 2]) << 16 | UInt32(u.damage[at + 3]) << 24)
                }
                b.damage(x: v(0), y: v(1), width: v(2), height: v(3))
            }
            record(b, sender, rects: b.takeDamage())
        case .portholeBufferViewV1Removed?:
            // The guest's consumer keeps its fd; the link's copy is no longer kept up to date.
            drop(sender, on: c)
        default:
            break
        }
        return .forward
    }

    /// Requests of the guest's consumer, on their way to the service.
    func incoming(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        guard resources.isEmpty else { throw .invalidMethod(m.sender, "\(m.name) may not carry an fd on a buffer consumer's connection") }
        switch m.spec.kind {
        case .wlRegistryBind?:
            let b = try m.typed(WlRegistryBind.self)
            guard b.id.interface == Array(Self.consumerGlobal.utf8) else {
                throw .invalidObject("only \(Self.consumerGlobal) can be bound on a buffer consumer's connection, not \(LogText.escaped(b.id.interface))")
            }
        case .portholeBufferViewV1Destroy?:
            drop(m.sender, on: c)
        default:
            break
        }
        return .forward
    }

    private func record(_ b: ReplicatedBuffer, _ view: UInt32, rects: [Rect]) {
        guard !rects.isEmpty else { return }
        syncs.record(b.image, bufferID: view, rects: rects, exclusive: true)
    }

    /// Stops mirroring a view: its resource goes after what is queued.
    private func drop(_ view: UInt32, on c: WaylandConnection) {
        if let rid = sharedViews.removeValue(forKey: view) {
            c.channel.closeResource(rid)
            stats.guestConsumerViewsShared -= 1
        }
        guard let b = views.removeValue(forKey: view) else { return }
        c.channel.closeResource(b.pool.resourceID)
        stats.guestConsumerViews -= 1
    }

    func flushPending(on c: WaylandConnection) throws(MessageFault) {
        try syncs.flush(channel: c.channel, stats: stats)
    }

    func closed(on c: WaylandConnection) {
        syncs.discard()
        stats.guestConsumerViews -= views.count
        stats.guestConsumerViewsShared -= sharedViews.count
        views.removeAll()
        sharedViews.removeAll()
    }
}
