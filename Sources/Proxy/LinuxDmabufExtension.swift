import Link
import PortholeSystem
import Wayland

/// The guest proxy's own zwp_linux_dmabuf_v1 (v4, with feedback): guest
/// clients that render on a GPU hand it dma-bufs, and the host compositor
/// gets each as an ordinary wl_shm buffer, its pixels replicated as a
/// pool's are. Only what that path can carry is offered: linear buffers of
/// one plane (linear, or implicit read as linear: `DmabufPlane.implicit`),
/// in the formats the host compositor announced for wl_shm.
///
/// The host never hears of linux-dmabuf, and its checks see only wl_shm
/// (docs/gpu-buffers.md). On the host, with the client's own ids:
/// - binding the global (id D) binds the compositor's wl_shm as D; its
///   format events come back on D and become linux-dmabuf's format and
///   modifier events. A wl_shm of version 1 cannot be destroyed, so
///   destroying D sends nothing and the client gets no delete_id (the id is
///   simply not reused);
/// - create_params (id P) makes a wl_shm_pool P of one page on D;
///   add keeps the plane's fd here; create_immed (buffer B) grows the pool
///   to the plane's bytes and makes wl_buffer B of it; destroying the
///   params destroys the pool (the buffer keeps its memory);
/// - feedback objects are placeholders (`PlaceholderIDs`).
/// `create` (a compositor-made buffer id) would need an id the compositor
/// has not seen from the client: it is answered with `failed`.
final class LinuxDmabufExtension {
    /// The registry name the global is offered under (after porthole_shared_memory_v1's).
    static let globalName: UInt32 = 0xFFFF_FF02
    static let interface = "zwp_linux_dmabuf_v1"
    static let version: UInt32 = 4

    private struct Params {
        var planes: DmabufParams
        /// The resource the host's pool stands on.
        var resource: UInt32
        var inRegion: Bool
        /// The pool has a buffer (so ClientPools owns the resource).
        var madeBuffer = false
    }

    private let pools: ClientPools
    private let placeholders: PlaceholderIDs
    private let stats: ProxyStats
    /// The device named in feedback (a DRM node's dev_t, 0 without one).
    private let mainDevice: UInt64
    /// Per registry: the name of the host's wl_shm global.
    private var shmGlobals: [UInt32: UInt32] = [:]
    /// Bound linux-dmabuf objects and their versions.
    private var bound: [UInt32: UInt32] = [:]
    /// wl_shm formats the host compositor announced (argb8888 and xrgb8888 it always has).
    private var hostFormats: [UInt32] = [0, 1]
    private var params: [UInt32: Params] = [:]
    /// The fd of the add being handled (taken from the socket before the message).
    private var planeFD: OwnedFD?
    private var createRefusals = 0

    init(pools: ClientPools, placeholders: PlaceholderIDs, stats: ProxyStats, mainDevice: UInt64) {
        self.pools = pools
        self.placeholders = placeholders
        self.stats = stats
        self.mainDevice = mainDevice
    }

    /// DRM fourcc -> wl_shm format, for every format offered.
    var offeredFormats: [UInt32: UInt32] {
        var m: [UInt32: UInt32] = [:]
        for f in hostFormats where bytesPerPixel(shmFormat: f) != nil { m[drmFourcc(shmFormat: f)] = f }
        return m
    }

    /// The bytes the link carries for `m` when the proxy rewrites it (nil: as read).
    func linkBytes(for m: ParsedMessage) -> Int? {
        switch m.spec.kind {
        case .zwpLinuxDmabufV1CreateParams?: return 16 // wl_shm.create_pool
        case .zwpLinuxBufferParamsV1CreateImmed?: return 12 + 32 // wl_shm_pool.resize, create_buffer
        default: return nil
        }
    }

    /// zwp_linux_buffer_params_v1.add's fd: kept here, never sent.
    func keepsFd(_ fd: OwnedFD, of m: ParsedMessage) -> Bool {
        guard m.spec.kind == .zwpLinuxBufferParamsV1Add else { return false }
        planeFD = fd
        return true
    }

    // MARK: Requests

    /// Handles the requests that concern linux-dmabuf; nil for any other.
    func outgoing(_ m: inout ParsedMessage, on c: WaylandConnection, flush: () throws(MessageFault) -> Void) throws(MessageFault) -> Verdict? {
        let sender = m.sender
        switch m.spec.kind {
        case .wlRegistryBind?:
            let r = try m.typed(WlRegistryBind.self)
            guard r.name == Self.globalName else { return nil }
            guard let shm = shmGlobals[sender], r.id.interfaceName == Self.interface, (1...Self.version).contains(r.id.version) else {
                throw .invalidObject("bind of global \(Self.globalName) as \(LogText.escaped(r.id.interface, limit: 128, quoted: false)) v\(r.id.version); it is \(Self.interface) v\(Self.version)")
            }
            bound[r.id.id] = r.id.version
            m.bytes = WlRegistryBind(name: shm, id: UntypedNewID(interface: Array("wl_shm".utf8), version: 1, id: r.id.id)).encode(objectID: sender)
            return .forward
        case .zwpLinuxDmabufV1Destroy?:
            bound.removeValue(forKey: sender)
            return .drop
        case .zwpLinuxDmabufV1GetDefaultFeedback?:
            let id = try m.typed(ZwpLinuxDmabufV1GetDefaultFeedback.self).id
            m.bytes = placeholders.make(for: id)
            sendFeedback(to: id, on: c)
            return .forward
        case .zwpLinuxDmabufV1GetSurfaceFeedback?:
            let id = try m.typed(ZwpLinuxDmabufV1GetSurfaceFeedback.self).id
            m.bytes = placeholders.make(for: id)
            sendFeedback(to: id, on: c)
            return .forward
        case .zwpLinuxDmabufFeedbackV1Destroy?:
            c.sendToSocket(WlDisplayDeleteId(id: sender).encode(objectID: Wire.displayID))
            return .drop
        case .zwpLinuxDmabufV1CreateParams?:
            let id = try m.typed(ZwpLinuxDmabufV1CreateParams.self).paramsId
            let (rid, inRegion) = try pools.openDmabufPoolResource(channel: c.channel)
            params[id] = Params(planes: DmabufParams(id: id), resource: rid, inRegion: inRegion)
            c.channel.append(WlShmCreatePool(id: id, size: Int32(ClientPools.dmabufPlaceholderSize)).encode(objectID: sender), resources: [rid])
            return .drop
        case .zwpLinuxBufferParamsV1Add?:
            let r = try m.typed(ZwpLinuxBufferParamsV1Add.self)
            guard let fd = planeFD else { throw .implementation("add without its fd") }
            planeFD = nil
            let plane = DmabufPlane(fd: fd, offset: r.offset, stride: r.stride, modifier: UInt64(r.modifierHi) << 32 | UInt64(r.modifierLo))
            try params[sender]?.planes.add(plane, index: r.planeIdx)
            return .drop
        case .zwpLinuxBufferParamsV1Create?:
            let r = try m.typed(ZwpLinuxBufferParamsV1Create.self)
            _ = try check(sender, width: r.width, height: r.height, format: r.format, flags: r.flags, channel: c.channel)
            createRefusals += 1
            if createRefusals == 1 || createRefusals % 100 == 0 {
                Log.info("\(c.name): zwp_linux_buffer_params_v1.create answered with failed (\(createRefusals) so far): only create_immed is carried")
            }
            c.sendToSocket(ZwpLinuxBufferParamsV1Failed().encode(objectID: sender))
            return .drop
        case .zwpLinuxBufferParamsV1CreateImmed?:
            let r = try m.typed(ZwpLinuxBufferParamsV1CreateImmed.self)
            try createImmed(r, params: sender, on: c)
            return .drop
        case .zwpLinuxBufferParamsV1Destroy?:
            guard let p = params.removeValue(forKey: sender) else { return .drop }
            if p.madeBuffer {
                // Syncs recorded earlier read the pool as it is now.
                try flush()
                pools.destroyPool(sender, channel: c.channel)
            } else {
                c.channel.closeResource(p.resource)
            }
            m.bytes = WlShmPoolDestroy().encode(objectID: sender)
            return .forward
        default:
            return nil
        }
    }

    /// Runs every check of a create or create_immed and marks the params used.
    private func check(_ id: UInt32, width: Int32, height: Int32, format: UInt32, flags: UInt32,
                       channel: LinkChannel) throws(MessageFault) -> DmabufParams.Checked {
        guard var p = params[id] else { throw .invalidObject("params \(id) unknown to the proxy") }
        try p.planes.use()
        params[id] = p
        return try p.planes.check(width: width, height: height, format: format, flags: flags, formats: offeredFormats,
                                  dmabufSize: { plane in DmaBuf.isDmaBuf(plane.fd) ? try? DmaBuf.size(of: plane.fd) : nil },
                                  maxSize: Int(channel.limits.maxResourceSize))
    }

    /// create_immed: the pool grows to the plane's bytes and the buffer is made of it.
    private func createImmed(_ r: ZwpLinuxBufferParamsV1CreateImmed, params id: UInt32, on c: WaylandConnection) throws(MessageFault) {
        let checked = try check(id, width: r.width, height: r.height, format: r.format, flags: r.flags, channel: c.channel)
        guard let p = params[id] else { return }
        let grow = try pools.makeDmabufPool(.dmaBuf(checked.plane.fd), size: checked.end, resource: p.resource, inRegion: p.inRegion,
                                            poolID: id, channel: c.channel)
        params[id]?.madeBuffer = true
        let request = WlShmPoolCreateBuffer(id: r.bufferId, offset: Int32(checked.plane.offset), width: checked.width, height: checked.height,
                                            stride: Int32(checked.plane.stride), format: checked.shmFormat)
        let forHost = try pools.createBuffer(request, poolID: id, yInverted: checked.yInverted)
        stats.dmabufBuffers += 1
        if let size = grow { c.channel.append(WlShmPoolResize(size: size).encode(objectID: id)) }
        c.channel.append(forHost.encode(objectID: id))
    }

    // MARK: Events

    /// Handles events that concern linux-dmabuf; nil for any other.
    func incoming(_ m: inout ParsedMessage, on c: WaylandConnection) throws(MessageFault) -> Verdict? {
        switch m.spec.kind {
        case .wlRegistryGlobal?:
            let e = try m.typed(WlRegistryGlobal.self)
            guard e.interface == Array("wl_shm".utf8) else { return nil }
            shmGlobals[m.sender] = e.name
            c.sendToSocket(WlRegistryGlobal(name: Self.globalName, interface: Array(Self.interface.utf8), version: Self.version).encode(objectID: m.sender))
            return .forward
        case .wlRegistryGlobalRemove?:
            let e = try m.typed(WlRegistryGlobalRemove.self)
            guard shmGlobals[m.sender] == e.name else { return nil }
            shmGlobals.removeValue(forKey: m.sender)
            c.sendToSocket(WlRegistryGlobalRemove(name: Self.globalName).encode(objectID: m.sender))
            return .forward
        case .zwpLinuxDmabufV1Format?:
            // wl_shm.format on the object the client knows as linux-dmabuf.
            let shm = try m.typed(ZwpLinuxDmabufV1Format.self).format
            guard bytesPerPixel(shmFormat: shm) != nil else { return .drop }
            if !hostFormats.contains(shm) { hostFormats.append(shm) }
            let version = bound[m.sender] ?? Self.version
            let drm = drmFourcc(shmFormat: shm)
            // From version 4 formats come in feedback only.
            if version < 4 { c.sendToSocket(ZwpLinuxDmabufV1Format(format: drm).encode(objectID: m.sender)) }
            if version == 3 {
                for modifier in DmabufPlane.offered {
                    c.sendToSocket(ZwpLinuxDmabufV1Modifier(format: drm, modifierHi: UInt32(modifier >> 32),
                                                            modifierLo: UInt32(truncatingIfNeeded: modifier)).encode(objectID: m.sender))
                }
            }
            return .drop
        default:
            return nil
        }
    }

    /// The feedback a client asked for, at once: one tranche of the formats
    /// known now, with the offered modifiers, on the guest's DRM device.
    private func sendFeedback(to id: UInt32, on c: WaylandConnection) {
        let formats = offeredFormats.keys.sorted()
        let table: OwnedFD
        do { table = try DmabufFormatTable.file(formats: formats) } catch {
            Log.warning("\(c.name): cannot make the dma-buf format table: \(error)")
            c.sendToSocket(ZwpLinuxDmabufFeedbackV1Done().encode(objectID: id))
            return
        }
        var device = mainDevice
        let deviceBytes = withUnsafeBytes(of: &device) { Array($0) }
        let entries = DmabufFormatTable.count(formats: formats.count)
        var indices: [UInt8] = []
        for i in 0..<entries { var n = UInt16(i); withUnsafeBytes(of: &n) { indices += $0 } }
        c.sendToSocket(ZwpLinuxDmabufFeedbackV1FormatTable(size: UInt32(entries * DmabufFormatTable.entrySize)).encode(objectID: id),
                       fds: [table])
        c.sendToSocket(ZwpLinuxDmabufFeedbackV1MainDevice(device: deviceBytes).encode(objectID: id))
        c.sendToSocket(ZwpLinuxDmabufFeedbackV1TrancheTargetDevice(device: deviceBytes).encode(objectID: id))
        c.sendToSocket(ZwpLinuxDmabufFeedbackV1TrancheFormats(indices: indices).encode(objectID: id))
        c.sendToSocket(ZwpLinuxDmabufFeedbackV1TrancheFlags(flags: 0).encode(objectID: id))
        c.sendToSocket(ZwpLinuxDmabufFeedbackV1TrancheDone().encode(objectID: id))
        c.sendToSocket(ZwpLinuxDmabufFeedbackV1Done().encode(objectID: id))
    }
}
