import Link
import PortholeSystem
import Sharing
import Wayland

/// A guest client's connection: requests go to the link, events come back.
/// Each of the client's wl_shm pools is either mirrored (on each commit the
/// damaged bytes that changed since the host last saw them are sent over the
/// link) or, when a shared region is agreed, copied into a chunk of the
/// region that the compositor reads directly (nothing crosses the link).
final class GuestChannel: ChannelEndpoint {
    /// How a client pool reaches the host.
    enum Pool {
        case stream(ShmPoolMirror)
        case region(RegionPool)
    }

    /// Where a wl_buffer's bytes are copied to.
    enum Backing {
        case stream(ShmPoolMirror)
        /// `chunk` is nil for a cooperative pool (nothing to copy).
        case region(RegionPool, chunk: RegionPool.Chunk?, registration: UInt32?)

        func samePool(as o: Backing) -> Bool {
            switch (self, o) {
            case (.stream(let a), .stream(let b)): return a === b
            case (.region(let a, _, _), .region(let b, _, _)): return a === b
            default: return false
            }
        }
    }

    /// A wl_buffer made from one of the client's pools.
    struct ShmBuffer {
        var backing: Backing
        var offset: Int
        var width: Int
        var height: Int
        var stride: Int
        var format: UInt32

        /// Whether the two buffers' pool bytes overlap (same pool assumed).
        func overlaps(_ o: ShmBuffer) -> Bool {
            offset < o.offset + o.stride * o.height && o.offset < offset + stride * height
        }
    }

    let region: GuestRegion?
    /// The porthole_shared_memory_v1 global, when there is a region.
    let sharedMemory: SharedMemoryExtension?
    /// The client program's name, a property of its registered buffers.
    let application: String
    private var pools: [UInt32: Pool] = [:]
    private var buffers: [UInt32: ShmBuffer] = [:]
    private var surfaces: [UInt32: SurfaceState] = [:]
    /// wp_viewport id -> surface id.
    private var viewports: [UInt32: UInt32] = [:]
    /// Per buffer, the damage it missed while other buffers were shown.
    private var history = DamageHistory()
    private var nextSurfaceSerial: UInt64 = 0
    /// Changed runs of the commit being sent (reused).
    private var runs: [UpdateRun] = []

    init(id: UInt32, client: OwnedFD, link: LinkEndpoint, loop: EventLoop, owner: ChannelOwner, tables: ProtocolTables,
         region: GuestRegion? = nil) throws(SystemError) {
        self.region = region
        sharedMemory = region.map { SharedMemoryExtension(region: $0) }
        application = Socket.peerProgramName(client) ?? "unknown"
        try super.init(id: id, socket: client, link: link, loop: loop, owner: owner, tables: tables, socketCarriesRequests: true)
    }

    override func closeChannel(reason: String, notifyPeer: Bool, code: UInt32 = 0) {
        guard !closed else { return }
        super.closeChannel(reason: reason, notifyPeer: notifyPeer, code: code)
        // The host dropped its buffers with the channel; give the memory back.
        for (_, b) in buffers {
            if case .region(_, let chunk, let registration) = b.backing {
                if let registration { region?.unregister(registration) }
                chunk?.buffers -= 1
            }
        }
        buffers.removeAll()
        for case .region(let p) in pools.values { releaseChunks(of: p, all: true) }
        pools.removeAll()
        sharedMemory?.freeAll()
    }

    override func swallowsIncoming(objectID: UInt32) -> Bool {
        sharedMemory?.isPlaceholder(objectID) ?? false
    }

    override func inspectIncoming(_ m: ParsedMessage) throws(MessageFault) -> Bool {
        // The end of a placeholder: the client's object of that id lives on.
        if m.header.objectID == Wire.displayID, m.spec.name == "delete_id", case .uint(let gone)? = m.args.first,
           sharedMemory?.endsPlaceholder(gone) == true {
            return false
        }
        return true
    }

    /// Handles requests to this proxy's own global. Returns nil for other
    /// messages, else whether to forward the (rewritten) message.
    private func inspectSharedMemoryRequest(_ m: inout ParsedMessage) throws(MessageFault) -> Bool? {
        guard let ext = sharedMemory else { return nil }
        let sender = m.header.objectID
        switch (m.target.interface.name, m.spec.name) {
        case ("wl_display", "get_registry"):
            if region?.active == true, case .newID(let registry) = m.args[0] {
                sendToSocket(SharedMemoryExtension.globalEvent(registry: registry))
            }
            return true
        case ("wl_registry", "bind"):
            guard case .uint(SharedMemoryExtension.globalName) = m.args[0], case .untypedNewID(let iface, let version, let id) = m.args[1] else { return nil }
            guard region?.active == true, String(decoding: iface, as: UTF8.self) == SharedMemoryExtension.interface, version == 1 else {
                throw MessageFault.invalidObject(sender, "bind of global \(SharedMemoryExtension.globalName) as \(String(decoding: iface, as: UTF8.self)) v\(version); it is \(SharedMemoryExtension.interface) v1")
            }
            m.bytes = ext.placeholder(for: id)
            return true
        case ("porthole_shared_memory_v1", "allocate"):
            guard case .newID(let id) = m.args[0], case .int(let w) = m.args[1], case .int(let h) = m.args[2],
                  case .int(let stride) = m.args[3], case .uint(let format) = m.args[4] else { throw MessageFault.implementation("unexpected allocate") }
            m.bytes = ext.placeholder(for: id)
            let answer = ext.allocate(id: id, width: w, height: h, stride: stride, format: format, application: application)
            sendToSocket(answer.event, fds: answer.fds)
            return true
        case ("porthole_shared_buffer_v1", "destroy"):
            ext.free(id: sender)
            sendToSocket(WireCodec.encode(objectID: Wire.displayID, opcode: 1, [.uint(sender)]))
            return false
        case ("porthole_shared_memory_v1", "destroy"):
            sendToSocket(WireCodec.encode(objectID: Wire.displayID, opcode: 1, [.uint(sender)]))
            return false
        default:
            return nil
        }
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
        if let region, region.active, let placed = try placeInRegion(fd, poolID: poolID, size: Int(size), rid: rid, shmID: shmID) {
            pools[poolID] = .region(placed)
            return rid
        }
        let mirror: ShmPoolMirror
        do { mirror = try ShmPoolMirror(resourceID: rid, clientFD: fd, size: Int(size)) } catch {
            throw MessageFault(objectID: shmID, code: 2, message: "cannot map pool fd: \(error)")
        }
        try addLocalResource(rid, .mirror(mirror))
        pools[poolID] = .stream(mirror)
        link.send(.resourceOpen(channel: id, resource: rid, kind: .shmPool, size: UInt64(size)))
        return rid
    }

    /// Puts a new pool in the shared region: as is, when the client's fd is
    /// the region (a cooperative client), else in a chunk of its own. Nil when
    /// the region is full (the pool is then mirrored over the link).
    private func placeInRegion(_ fd: OwnedFD, poolID: UInt32, size: Int, rid: UInt32, shmID: UInt32) throws(MessageFault) -> RegionPool? {
        guard let region else { return nil }
        let regionSize = region.region.size
        let pool: RegionPool
        if region.region.isSameFile(fd) {
            guard size <= regionSize else {
                throw MessageFault(objectID: shmID, code: 1, message: "pool of \(size) bytes on a \(regionSize)-byte shared region")
            }
            pool = RegionPool(cooperativeResourceID: rid, size: size)
        } else {
            guard let chunk = region.allocateChunk(UInt64(size)) else {
                stats.fallbackPools += 1
                Log.info("\(tag): shared region full (\(region.allocator.largestFree) bytes free in one piece); pool of \(size) bytes is copied over the link")
                return nil
            }
            do { pool = try RegionPool(resourceID: rid, clientFD: fd, size: size, chunk: chunk) } catch {
                region.releaseChunk(chunk)
                throw MessageFault(objectID: shmID, code: 2, message: "cannot map pool fd: \(error)")
            }
        }
        do { try addLocalResource(rid, .regionPool(pool)) } catch {
            releaseChunks(of: pool, all: true)
            throw error
        }
        stats.regionPools += 1
        link.send(.resourceOpen(channel: id, resource: rid, kind: .region, size: UInt64(regionSize)))
        return pool
    }

    /// Gives chunks no buffer needs back to the region.
    private func releaseChunks(of pool: RegionPool, all: Bool) {
        for c in pool.takeIdleChunks(includingCurrent: all) { region?.releaseChunk(c) }
    }

    private func releaseIfUnused(_ pool: Pool) {
        let rid: UInt32
        switch pool {
        case .stream(let p):
            guard p.isUnused else { return }
            rid = p.resourceID
        case .region(let p):
            guard p.isUnused else { return }
            releaseChunks(of: p, all: true)
            rid = p.resourceID
        }
        // Earlier messages may still name the resource: send them first.
        flushPending()
        dropResource(rid)
        link.send(.resourceClose(channel: id, resource: rid))
    }

    // MARK: requests

    override func inspectOutgoing(_ m: inout ParsedMessage, fds: inout [OwnedFD]) throws(MessageFault) -> Bool {
        if let forward = try inspectSharedMemoryRequest(&m) { return forward }
        let sender = m.header.objectID
        switch (m.target.interface.name, m.spec.name) {
        case ("wl_shm", "create_pool"):
            // A region pool's twin on the host spans the region up to the end of its chunk.
            if case .newID(let poolID) = m.args[0], case .region(let p)? = pools[poolID], !p.cooperative {
                m.args[2] = .int(Int32(p.hostPoolSize))
                m.bytes = WireCodec.encode(objectID: sender, opcode: m.header.opcode, m.args)
            }
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
            let poolSize: Int
            switch pool {
            case .stream(let p): poolSize = p.size
            case .region(let p): poolSize = p.size
            }
            guard Int64(offset) + Int64(stride) * Int64(height) <= Int64(poolSize) else {
                throw MessageFault(objectID: sender, code: 1, message: "buffer (offset \(offset), stride \(stride), height \(height)) lies outside the pool of \(poolSize) bytes")
            }
            let backing: Backing
            switch pool {
            case .stream(let p):
                p.bufferCount += 1
                backing = .stream(p)
            case .region(let p):
                p.bufferCount += 1
                guard let chunk = p.current else {
                    // Cooperative: the client registered its memory through the extension.
                    backing = .region(p, chunk: nil, registration: nil)
                    break
                }
                chunk.buffers += 1
                let regionOffset = chunk.offset + UInt64(offset)
                let length = UInt64(stride) * UInt64(height)
                let registration = region?.register(
                    application: application,
                    range: GuestRegion.registrationRange(offset: regionOffset, length: length),
                    properties: [("width", "\(width)"), ("height", "\(height)"), ("stride", "\(stride)"),
                                 ("format", "\(format)"), ("offset", "\(regionOffset)")])
                backing = .region(p, chunk: chunk, registration: registration)
                m.args[1] = .int(Int32(regionOffset))
                m.bytes = WireCodec.encode(objectID: sender, opcode: m.header.opcode, m.args)
            }
            let made = ShmBuffer(backing: backing, offset: Int(offset), width: Int(width), height: Int(height), stride: Int(stride), format: format)
            // Buffers sharing pool bytes: their damage says nothing about each other's bytes.
            var aliased = false
            for (other, ob) in buffers where other != bid && ob.backing.samePool(as: backing) && ob.overlaps(made) {
                aliased = true
                history.markAliased(other)
            }
            buffers[bid] = made
            history.created(bid, aliased: aliased)
        case ("wl_shm_pool", "resize"):
            guard let pool = pools[sender], case .int(let size) = m.args[0] else { break }
            switch pool {
            case .stream(let p):
                guard Int(size) >= p.size, UInt64(size) <= limits.maxResourceSize else {
                    throw MessageFault(objectID: sender, code: 1, message: "pool cannot shrink or exceed the limit (\(p.size) -> \(size))")
                }
                guard p.clientFileSize() >= Int(size) else {
                    throw MessageFault(objectID: sender, code: 2, message: "pool fd is smaller than the new size \(size)")
                }
                markBuffersWhole(of: pool)
                if Int(size) > p.size {
                    // Growing remaps both mappings: queued references to them must be copied out first.
                    link.detach(p.mirror)
                    link.detach(p.client)
                    do { try p.grow(to: Int(size)) } catch { throw MessageFault(objectID: sender, code: 2, message: "cannot map grown pool: \(error)") }
                    link.send(.resourceExtend(channel: id, resource: p.resourceID, size: UInt64(size)))
                }
            case .region(let p):
                markBuffersWhole(of: pool)
                try resizeRegionPool(p, to: Int(size), sender: sender)
                m.args[0] = .int(Int32(p.hostPoolSize))
                m.bytes = WireCodec.encode(objectID: sender, opcode: m.header.opcode, m.args)
            }
        case ("wl_shm_pool", "destroy"):
            if let pool = pools.removeValue(forKey: sender) {
                switch pool {
                case .stream(let p): p.poolAlive = false
                case .region(let p): p.poolAlive = false
                }
                releaseIfUnused(pool)
            }
        case ("wl_buffer", "destroy"):
            if let b = buffers.removeValue(forKey: sender) {
                history.destroyed(sender)
                switch b.backing {
                case .stream(let p):
                    p.bufferCount -= 1
                    releaseIfUnused(.stream(p))
                case .region(let p, let chunk, let registration):
                    if let registration {
                        // The destroy goes first; the host checks buffers only when they are made.
                        flushPending()
                        region?.unregister(registration)
                    }
                    chunk?.buffers -= 1
                    p.bufferCount -= 1
                    releaseChunks(of: p, all: false)
                    releaseIfUnused(.region(p))
                }
            }
        case ("wl_compositor", "create_surface"):
            if case .newID(let sid) = m.args[0] {
                nextSurfaceSerial += 1
                var state = SurfaceState()
                state.serial = nextSurfaceSerial
                surfaces[sid] = state
            }
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
            try sendDamage(surface: sender)
        case ("wl_surface", "destroy"):
            if let gone = surfaces.removeValue(forKey: sender) { history.surfaceDestroyed(gone.serial) }
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

    /// After a pool resize, the next commit of each of its buffers compares all of it.
    private func markBuffersWhole(of pool: Pool) {
        let backing: Backing
        switch pool {
        case .stream(let p): backing = .stream(p)
        case .region(let p): backing = .region(p, chunk: nil, registration: nil)
        }
        for (bid, b) in buffers where b.backing.samePool(as: backing) { history.markWhole(bid) }
    }

    /// A region pool grows: in place if the region allows, else new buffers
    /// go to a new chunk. The host's pool grows to cover it.
    private func resizeRegionPool(_ p: RegionPool, to size: Int, sender: UInt32) throws(MessageFault) {
        guard size >= p.size else {
            throw MessageFault(objectID: sender, code: 1, message: "pool cannot shrink (\(p.size) -> \(size))")
        }
        guard let region else { return }
        if p.cooperative {
            guard size <= region.region.size else {
                throw MessageFault(objectID: sender, code: 1, message: "pool of \(size) bytes on a \(region.region.size)-byte shared region")
            }
            p.hostPoolSize = size
            return
        }
        guard size > p.size else { return }
        guard p.clientFileSize() >= size else {
            throw MessageFault(objectID: sender, code: 2, message: "pool fd is smaller than the new size \(size)")
        }
        do { try p.growClient(to: size) } catch { throw MessageFault(objectID: sender, code: 2, message: "cannot map grown pool: \(error)") }
        if let chunk = p.current, region.extendChunk(chunk, to: UInt64(size)) {
            // Grew in place.
        } else if let chunk = region.allocateChunk(UInt64(size)) {
            p.adoptChunk(chunk)
            releaseChunks(of: p, all: false)
        } else {
            throw MessageFault(objectID: Wire.displayID, code: 2, message: "shared region full: cannot grow a pool to \(size) bytes (\(region.allocator.largestFree) bytes free in one piece)")
        }
        if let c = p.current { p.hostPoolSize = max(p.hostPoolSize, Int(c.offset + c.size)) }
    }

    /// Brings the host's view of the buffer being committed up to date: the
    /// changed bytes inside its damage go over the link (a mirrored pool) or
    /// into its chunk of the shared region.
    private func sendDamage(surface sid: UInt32) throws(MessageFault) {
        guard var state = surfaces[sid] else { return }
        let bufferID = state.pendingBuffer ?? state.buffer
        let buffer = buffers[bufferID]
        let (_, damage) = state.commit(bufferSize: buffer.map { ($0.width, $0.height) })
        surfaces[sid] = state
        let geometry = CommitGeometry(width: buffer?.width ?? 0, height: buffer?.height ?? 0, scale: state.scale,
                                      transform: state.transform, viewport: state.viewport)
        let rects = history.commit(surface: state.serial, buffer: buffer == nil ? nil : bufferID, geometry: geometry, damage: damage)
        guard let b = buffer, !rects.isEmpty else { return }
        switch b.backing {
        case .stream(let pool):
            guard pool.clientFileSize() >= pool.size, let client = pool.client.base, let mirror = pool.mirror.base else {
                throw shrankFault(bufferID, pool.size)
            }
            // Earlier updates may still be queued from the mirror: copy them out before it changes.
            link.detach(pool.mirror)
            runs.removeAll(keepingCapacity: true)
            var copied = 0
            var pending = 0
            var sent = 0
            var syncCopied = 0
            let before = link.referencedBytes
            let span = b.offset..<(b.offset + b.stride * b.height)
            // Bytes queued by reference are read by the kernel later, outside
            // any guard: only a file sealed against shrinking may be used so
            // (a shrink would fail the link's sendmsg with EFAULT).
            if pool.blindCommits > 1, history.entries[bufferID]?.aliased == false, pool.clientCannotShrink {
                Self.forEachDamagedSpan(b, rects) { start, end in ByteDiff.addRun(&runs, offset: start, length: end - start) }
                let total = runs.reduce(0) { $0 + $1.length }
                if total >= runs.count * Self.referenceRun {
                    // Mostly changed, in long runs: send the damage straight
                    // from the client's memory, without a copy into the
                    // mirror, which is then stale in these bytes.
                    pool.blindCommits -= 1
                    for r in runs { pool.markStale(r.offset..<(r.offset + r.length)) }
                    sent = link.sendUpdate(channel: id, resource: pool.resourceID, base: UnsafeRawPointer(client), runs: runs, owner: pool.client)
                    let referenced = Int(link.referencedBytes - before)
                    stats.pixelBytesSent += UInt64(sent)
                    stats.copiedBytes += UInt64(sent - referenced)
                    return
                }
                // Short runs cost a copy into the link queue anyway: keep the mirror.
                runs.removeAll(keepingCapacity: true)
            }
            // The client can still shrink its file while we read it.
            _ = try guardedRead(client, length: pool.client.size, bufferID) { () -> Int in
                var synced: [Range<Int>] = []
                if pool.isStale(span) {
                    // These bytes were sent straight from the client's memory and
                    // the mirror missed them. Outside this commit's damage (which
                    // includes what the buffer missed) the client's bytes are what
                    // the host has: copy them into the mirror, unsent. The damaged
                    // parts are sent below without comparing.
                    synced = pool.takeStale(in: span)
                    for r in synced {
                        (mirror + r.lowerBound).copyMemory(from: client + r.lowerBound, byteCount: r.count)
                        syncCopied += r.count
                    }
                }
                // Runs go out every MiB or so, so that the host receives while the guest compares.
                func sendRuns(_ force: Bool) {
                    guard force ? !runs.isEmpty : pending >= Self.sendChunk else { return }
                    sent += link.sendUpdate(channel: id, resource: pool.resourceID, base: UnsafeRawPointer(mirror), runs: runs, owner: pool.mirror)
                    runs.removeAll(keepingCapacity: true)
                    pending = 0
                }
                func addSynced(_ start: Int, _ end: Int) {
                    ByteDiff.addRun(&runs, offset: start, length: end - start)
                    pending += end - start
                    sendRuns(false)
                }
                if pool.blindCommits > 0 {
                    pool.blindCommits -= 1
                    Self.forEachDamagedSpan(b, rects, split: synced) { start, end, isSynced in
                        if isSynced { return addSynced(start, end) }
                        var at = start
                        while at < end {
                            let n = min(end - at, Self.sendChunk)
                            (mirror + at).copyMemory(from: client + at, byteCount: n)
                            ByteDiff.addRun(&runs, offset: at, length: n)
                            copied += n
                            pending += n
                            at += n
                            sendRuns(false)
                        }
                    }
                } else {
                    var compared = 0
                    Self.forEachDamagedSpan(b, rects, split: synced) { start, end, isSynced in
                        if isSynced { return addSynced(start, end) }
                        var at = start
                        while at < end {
                            let stop = min(end, at + Self.sendChunk)
                            compared += stop - at
                            let n = ByteDiff.diff(client: client, copy: mirror, start: at, end: stop, runs: &runs)
                            copied += n
                            pending += n
                            at = stop
                            sendRuns(false)
                        }
                    }
                    if compared >= 1 << 16 && copied * 4 >= compared * 3 { pool.blindCommits = Self.blindCommitRun }
                }
                sendRuns(true)
                return 0
            }
            let referenced = Int(link.referencedBytes - before)
            stats.pixelBytesSent += UInt64(sent)
            stats.copiedBytes += UInt64(copied + syncCopied + sent - referenced)
        case .region(let pool, let chunk?, _):
            guard let region, let client = pool.client?.base, pool.clientFileSize() >= pool.size else {
                throw shrankFault(bufferID, pool.size)
            }
            let copy = region.region.pointer(at: chunk.offset)
            let copied = try guardedRead(client, length: pool.client?.size ?? pool.size, bufferID) { () -> Int in
                var copied = 0
                if pool.blindCommits > 0 {
                    pool.blindCommits -= 1
                    Self.forEachDamagedSpan(b, rects) { start, end in
                        (copy + start).copyMemory(from: client + start, byteCount: end - start)
                        copied += end - start
                    }
                } else {
                    var compared = 0
                    Self.forEachDamagedSpan(b, rects) { start, end in
                        compared += end - start
                        copied += ByteDiff.diff(client: client, copy: copy, start: start, end: end)
                    }
                    // Mostly changed: copy the next commits outright, then measure again.
                    if compared >= 1 << 16 && copied * 4 >= compared * 3 { pool.blindCommits = Self.blindCommitRun }
                }
                return copied
            }
            stats.copiedBytes += UInt64(copied)
        case .region(_, nil, _):
            // The client drew straight into the region.
            break
        }
    }

    /// wl_shm's invalid_fd error, as a compositor reports a pool it can no longer read.
    private func shrankFault(_ bufferID: UInt32, _ size: Int) -> MessageFault {
        MessageFault(objectID: bufferID, code: 2, message: "error accessing SHM buffer: the pool file shrank below \(size) bytes")
    }

    /// Runs `body`, which reads the client's pool mapping at `base`, so that
    /// a client truncating its file mid-read fails this client (the mapping
    /// then holds zeros, and the channel closes) instead of ending the proxy.
    private func guardedRead(_ base: UnsafeRawPointer, length: Int, _ bufferID: UInt32, _ body: () -> Int) throws(MessageFault) -> Int {
        let outcome: MemoryFaultGuard.Outcome<Int>
        do { outcome = try MemoryFaultGuard.reading(base, length: length, body) } catch {
            throw MessageFault.implementation("cannot read the pool safely: \(error)")
        }
        if outcome.faulted {
            stats.memoryFaults += 1
            throw shrankFault(bufferID, length)
        }
        return outcome.value
    }

    /// How many commits are copied without comparing after a commit whose
    /// damage had changed almost everywhere.
    static let blindCommitRun = 15

    /// Blind commits skip the mirror only when their runs average at least this.
    static let referenceRun = 16384

    /// Changed bytes collected before they are handed to the link.
    static let sendChunk = 1 << 20

    /// Like `forEachDamagedSpan(_:_:_:)`, with each span cut where it
    /// enters or leaves `split` (sorted, disjoint byte ranges); the flag says
    /// whether the piece lies inside them.
    private static func forEachDamagedSpan(_ b: ShmBuffer, _ rects: [Rect], split: [Range<Int>], _ body: (Int, Int, Bool) -> Void) {
        guard !split.isEmpty else { return forEachDamagedSpan(b, rects) { body($0, $1, false) } }
        forEachDamagedSpan(b, rects) { start, end in
            var at = start
            for r in split where r.upperBound > at && r.lowerBound < end {
                if r.lowerBound > at { body(at, r.lowerBound, false) }
                let inEnd = min(end, r.upperBound)
                body(max(at, r.lowerBound), inEnd, true)
                at = inEnd
            }
            if at < end { body(at, end, false) }
        }
    }

    /// Calls `body(start, end)` with the pool byte spans the damage covers:
    /// whole rows when a rectangle spans the stride, else a span per row.
    private static func forEachDamagedSpan(_ b: ShmBuffer, _ rects: [Rect], _ body: (Int, Int) -> Void) {
        let bpp = bytesPerPixel(shmFormat: b.format)
        for r in rects {
            let x0 = bpp.map { r.x * $0 } ?? 0
            let rowBytes = bpp.map { r.width * $0 } ?? b.stride
            if x0 == 0 && rowBytes >= b.stride {
                let start = b.offset + r.y * b.stride
                body(start, start + r.height * b.stride)
            } else {
                for row in r.y..<(r.y + r.height) {
                    let start = b.offset + row * b.stride + x0
                    body(start, start + min(rowBytes, b.stride - x0))
                }
            }
        }
    }
}
