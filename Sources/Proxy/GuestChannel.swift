import Link
import PortholeSystem
import Wayland

/// A guest client's connection: requests go to the link, events come back.
/// It mirrors the client's wl_shm pools and, on each commit, sends the
/// damaged bytes that changed since the host last saw them.
final class GuestChannel: ChannelEndpoint {
    /// A wl_buffer made from a mirrored pool.
    struct ShmBuffer {
        var pool: ShmPoolMirror
        var offset: Int
        var width: Int
        var height: Int
        var stride: Int
        var format: UInt32
    }

    private var pools: [UInt32: ShmPoolMirror] = [:]
    private var buffers: [UInt32: ShmBuffer] = [:]
    private var surfaces: [UInt32: SurfaceState] = [:]
    /// wp_viewport id -> surface id.
    private var viewports: [UInt32: UInt32] = [:]

    init(id: UInt32, client: OwnedFD, link: LinkEndpoint, loop: EventLoop, owner: ChannelOwner, tables: ProtocolTables) throws(SystemError) {
        try super.init(id: id, socket: client, link: link, loop: loop, owner: owner, tables: tables, socketCarriesRequests: true)
    }

    override func fail(_ fault: MessageFault, localPeer: Bool) {
        // The client learns why; the host side learns the channel is gone.
        sendToSocket(fault.errorEvent)
        closeChannel(reason: fault.description, notifyPeer: true)
    }

    override func peerClosed(code: UInt32, reason: String) {
        if code != 0 {
            // The host refused something (it sent the client the Wayland error
            // already if it could); make sure the client is not left hanging.
            sendToSocket(MessageFault.implementation("host proxy closed this connection: \(reason)").errorEvent)
        }
        super.peerClosed(code: code, reason: reason)
    }

    // MARK: shm pools

    override func makeShmResource(_ fd: OwnedFD, message: ParsedMessage) throws(MessageFault) -> UInt32 {
        guard case .newID(let poolID) = message.args[0], case .int(let size) = message.args[2] else {
            throw MessageFault.implementation("unexpected create_pool arguments")
        }
        let shmID = message.header.objectID
        guard size > 0, UInt64(size) <= limits.maxResourceSize else {
            throw MessageFault(objectID: shmID, code: 1, message: "invalid pool size \(size)")
        }
        let fileSize = (try? fd.fileSize()) ?? -1
        guard fileSize >= Int(size) else {
            throw MessageFault(objectID: shmID, code: 2, message: "pool fd holds \(fileSize) bytes, pool wants \(size)")
        }
        let rid = allocateResourceID()
        let mirror: ShmPoolMirror
        do { mirror = try ShmPoolMirror(resourceID: rid, clientFD: fd, size: Int(size)) } catch {
            throw MessageFault(objectID: shmID, code: 2, message: "cannot map pool fd: \(error)")
        }
        try addLocalResource(rid, .mirror(mirror))
        pools[poolID] = mirror
        link.send(.resourceOpen(channel: id, resource: rid, kind: .shmPool, size: UInt64(size)))
        return rid
    }

    private func releaseIfUnused(_ pool: ShmPoolMirror) {
        guard pool.isUnused else { return }
        // Earlier messages may still name the resource: send them first.
        flushPending()
        dropResource(pool.resourceID)
        link.send(.resourceClose(channel: id, resource: pool.resourceID))
    }

    // MARK: requests

    override func inspectOutgoing(_ m: inout ParsedMessage, fds: inout [OwnedFD]) throws(MessageFault) -> Bool {
        let sender = m.header.objectID
        switch (m.target.interface.name, m.spec.name) {
        case ("wl_shm_pool", "create_buffer"):
            guard let pool = pools[sender], case .newID(let bid) = m.args[0], case .int(let offset) = m.args[1],
                  case .int(let width) = m.args[2], case .int(let height) = m.args[3], case .int(let stride) = m.args[4],
                  case .uint(let format) = m.args[5] else { throw MessageFault.implementation("unexpected create_buffer") }
            guard width > 0, height > 0, stride > 0, offset >= 0 else {
                throw MessageFault(objectID: sender, code: 1, message: "invalid width, height, stride or offset (\(width)x\(height), stride \(stride), offset \(offset))")
            }
            if let bpp = bytesPerPixel(shmFormat: format), Int64(stride) < Int64(width) * Int64(bpp) {
                throw MessageFault(objectID: sender, code: 1, message: "stride \(stride) is less than width \(width) x \(bpp) bytes")
            }
            guard Int64(offset) + Int64(stride) * Int64(height) <= Int64(pool.size) else {
                throw MessageFault(objectID: sender, code: 1, message: "buffer (offset \(offset), stride \(stride), height \(height)) lies outside the pool of \(pool.size) bytes")
            }
            pool.bufferCount += 1
            buffers[bid] = ShmBuffer(pool: pool, offset: Int(offset), width: Int(width), height: Int(height), stride: Int(stride), format: format)
        case ("wl_shm_pool", "resize"):
            guard let pool = pools[sender], case .int(let size) = m.args[0] else { break }
            guard Int(size) >= pool.size, UInt64(size) <= limits.maxResourceSize else {
                throw MessageFault(objectID: sender, code: 1, message: "pool cannot shrink or exceed the limit (\(pool.size) -> \(size))")
            }
            guard pool.clientFileSize() >= Int(size) else {
                throw MessageFault(objectID: sender, code: 2, message: "pool fd is smaller than the new size \(size)")
            }
            if Int(size) > pool.size {
                do { try pool.grow(to: Int(size)) } catch { throw MessageFault(objectID: sender, code: 2, message: "cannot map grown pool: \(error)") }
                link.send(.resourceExtend(channel: id, resource: pool.resourceID, size: UInt64(size)))
            }
        case ("wl_shm_pool", "destroy"):
            if let pool = pools.removeValue(forKey: sender) {
                pool.poolAlive = false
                releaseIfUnused(pool)
            }
        case ("wl_buffer", "destroy"):
            if let b = buffers.removeValue(forKey: sender) {
                b.pool.bufferCount -= 1
                releaseIfUnused(b.pool)
            }
        case ("wl_compositor", "create_surface"):
            if case .newID(let sid) = m.args[0] { surfaces[sid] = SurfaceState() }
        case ("wl_surface", "attach"):
            if case .object(let bid) = m.args[0] { surfaces[sender]?.pendingBuffer = bid }
        case ("wl_surface", "damage"), ("wl_surface", "damage_buffer"):
            if case .int(let x) = m.args[0], case .int(let y) = m.args[1], case .int(let w) = m.args[2], case .int(let h) = m.args[3] {
                surfaces[sender]?.addDamage(Rect(x: Int(x), y: Int(y), width: Int(w), height: Int(h)), buffer: m.spec.name == "damage_buffer")
            }
        case ("wl_surface", "set_buffer_scale"):
            if case .int(let s) = m.args[0] { surfaces[sender]?.pendingScale = Int(s) }
        case ("wl_surface", "set_buffer_transform"):
            if case .int(let t) = m.args[0] { surfaces[sender]?.pendingTransform = Int(t) }
        case ("wl_surface", "commit"):
            stats.commits += 1
            sendDamage(surface: sender)
        case ("wl_surface", "destroy"):
            surfaces.removeValue(forKey: sender)
        case ("wp_viewporter", "get_viewport"):
            if case .newID(let vid) = m.args[0], case .object(let sid) = m.args[1] { viewports[vid] = sid }
        case ("wp_viewport", "set_source"):
            guard let sid = viewports[sender], case .fixed(let x) = m.args[0], case .fixed(let y) = m.args[1],
                  case .fixed(let w) = m.args[2], case .fixed(let h) = m.args[3] else { break }
            var v = surfaces[sid]?.pendingViewport ?? surfaces[sid]?.viewport ?? ViewportState()
            v.source = w == -256 ? nil : (Double(x) / 256, Double(y) / 256, Double(w) / 256, Double(h) / 256)
            surfaces[sid]?.pendingViewport = v
        case ("wp_viewport", "set_destination"):
            guard let sid = viewports[sender], case .int(let w) = m.args[0], case .int(let h) = m.args[1] else { break }
            var v = surfaces[sid]?.pendingViewport ?? surfaces[sid]?.viewport ?? ViewportState()
            v.destination = w == -1 ? nil : (Int(w), Int(h))
            surfaces[sid]?.pendingViewport = v
        case ("wp_viewport", "destroy"):
            if let sid = viewports.removeValue(forKey: sender) { surfaces[sid]?.pendingViewport = ViewportState() }
        default:
            break
        }
        return true
    }

    /// Sends the changed bytes inside the damage of the buffer being committed.
    private func sendDamage(surface sid: UInt32) {
        guard var state = surfaces[sid] else { return }
        let bufferID = state.pendingBuffer ?? state.buffer
        let buffer = buffers[bufferID]
        let (_, rects) = state.commit(bufferSize: buffer.map { ($0.width, $0.height) })
        surfaces[sid] = state
        guard let b = buffer, !rects.isEmpty else { return }
        let pool = b.pool
        // A client that shrank its file under us would make reads fault.
        guard pool.clientFileSize() >= pool.size else {
            Log.warning("\(tag): pool file shrank below \(pool.size) bytes; commit not mirrored")
            return
        }
        var builder = UpdateBuilder(channel: id, resource: pool.resourceID, maxPayload: limits.maxPayload)
        var copied = 0
        let bpp = bytesPerPixel(shmFormat: b.format)
        for r in rects {
            let x0 = bpp.map { r.x * $0 } ?? 0
            let rowBytes = bpp.map { r.width * $0 } ?? b.stride
            if x0 == 0 && rowBytes >= b.stride {
                let start = b.offset + r.y * b.stride
                copied += ByteDiff.diff(pool, start: start, end: start + r.height * b.stride, into: &builder)
            } else {
                for row in r.y..<(r.y + r.height) {
                    let start = b.offset + row * b.stride + x0
                    copied += ByteDiff.diff(pool, start: start, end: start + min(rowBytes, b.stride - x0), into: &builder)
                }
            }
        }
        builder.flush()
        for f in builder.frames { link.send(f) }
        stats.pixelBytesSent += UInt64(builder.totalBytes)
        stats.copiedBytes += UInt64(copied + builder.totalBytes)
    }
}
