import Link
import PortholeSystem
import Wayland

/// A guest client's connection as the host sees it: one connection to the
/// real compositor. Everything from the guest is checked here — this is the
/// trust boundary — and globals the proxies cannot carry are hidden.
final class HostChannel: ChannelEndpoint {
    /// Globals shown to the guest: registry name -> (interface, advertised version).
    private var exposed: [UInt32: [UInt32: (interface: String, version: UInt32)]] = [:]
    /// wl_shm_pool id -> backing resource size, to check buffers against.
    private var poolSizes: [UInt32: (resource: UInt32, size: Int64)] = [:]
    /// Pools whose memory is the shared region: their buffers must lie in registered memory.
    private var regionPools: Set<UInt32> = []
    /// Clipboard and drag-and-drop offer id -> the mime types the compositor
    /// announced for it, so that a receive for any other type is logged.
    private var offeredMimeTypes: [UInt32: Set<[UInt8]>] = [:]
    /// The interfaces whose `offer` events announce mime types and whose
    /// `receive` requests ask for one.
    static let offerInterfaces: Set<String> = ["wl_data_offer", "zwp_primary_selection_offer_v1", "gtk_primary_selection_offer",
                                               "zwlr_data_control_offer_v1", "ext_data_control_offer_v1"]

    init(id: UInt32, compositor: OwnedFD, link: LinkEndpoint, loop: EventLoop, owner: ChannelOwner, tables: ProtocolTables) throws(SystemError) {
        try super.init(id: id, socket: compositor, link: link, loop: loop, owner: owner, tables: tables, socketCarriesRequests: false)
    }

    override func fail(_ fault: MessageFault, localPeer: Bool) {
        if !localPeer {
            // The guest broke the rules: its client gets the Wayland error
            // through the link, then the channel closes.
            let bytes = fault.errorEvent
            if credit.peerFree >= bytes.count {
                credit.didSend(bytes.count)
                link.send(.data(channel: id, credit: credit.advertise(), resources: [], bytes: bytes))
            }
            closeChannel(reason: fault.description, notifyPeer: true, code: 1)
        } else {
            closeChannel(reason: "compositor sent a message the proxy cannot carry: \(fault.description)", notifyPeer: true, code: 2)
        }
    }

    // MARK: events from the compositor

    override func inspectOutgoing(_ m: inout ParsedMessage, fds: inout [OwnedFD]) throws(MessageFault) -> Bool {
        noteOfferedMimeTypes(m)
        guard m.target.interface.name == "wl_registry" else { return true }
        let registry = m.header.objectID
        switch m.spec.name {
        case "global":
            guard case .uint(let name) = m.args[0], case .string(let ifaceBytes?) = m.args[1], case .uint(let version) = m.args[2] else { return false }
            let iface = String(decoding: ifaceBytes, as: UTF8.self)
            guard translations.mayExpose(global: iface, tables: objects.tables), let known = objects.tables[iface] else {
                Log.debug("\(tag): hiding global \(iface) v\(version)")
                return false
            }
            let capped = min(version, known.version)
            exposed[registry, default: [:]][name] = (iface, capped)
            if capped != version {
                m.args[2] = .uint(capped)
                m.bytes = WireCodec.encode(objectID: registry, opcode: m.header.opcode, m.args)
            }
            return true
        case "global_remove":
            guard case .uint(let name) = m.args[0] else { return false }
            return exposed[registry]?[name] != nil
        default:
            return true
        }
    }

    // MARK: requests from the guest

    override func inspectIncoming(_ m: ParsedMessage) throws(MessageFault) -> Bool {
        let sender = m.header.objectID
        switch (m.target.interface.name, m.spec.name) {
        case ("wl_registry", "bind"):
            guard case .uint(let name) = m.args[0], case .untypedNewID(let ifaceBytes, let version, _) = m.args[1] else { return true }
            let iface = String(decoding: ifaceBytes, as: UTF8.self)
            guard let global = exposed[sender]?[name] else {
                throw MessageFault(objectID: sender, code: 0, message: "invalid global \(name) (\(iface))")
            }
            guard global.interface == iface, version >= 1, version <= global.version else {
                throw MessageFault(objectID: sender, code: 0, message: "bind of global \(name) as \(iface) v\(version); it is \(global.interface) v\(global.version)")
            }
        case ("wl_shm", "create_pool"):
            guard case .int(let size) = m.args[2] else { return true }
            guard size > 0 else { throw MessageFault(objectID: sender, code: 1, message: "invalid pool size \(size)") }
        case ("wl_shm_pool", "resize"):
            guard case .int(let size) = m.args[0], let p = poolSizes[sender] else { return true }
            guard Int64(size) >= p.size else { throw MessageFault(objectID: sender, code: 1, message: "pool cannot shrink") }
            guard Int64(size) <= backingSize(of: p.resource) else {
                throw MessageFault(objectID: sender, code: 1, message: "pool resized to \(size) bytes beyond its \(backingSize(of: p.resource))-byte resource")
            }
            poolSizes[sender]?.size = Int64(size)
        case ("wl_shm_pool", "create_buffer"):
            guard let p = poolSizes[sender], case .int(let offset) = m.args[1], case .int(let width) = m.args[2],
                  case .int(let height) = m.args[3], case .int(let stride) = m.args[4] else { return true }
            guard offset >= 0, width > 0, height > 0, stride > 0, Int64(offset) + Int64(stride) * Int64(height) <= p.size else {
                throw MessageFault(objectID: sender, code: 1, message: "buffer outside the pool (offset \(offset), \(width)x\(height), stride \(stride), pool \(p.size))")
            }
            if case .uint(let format) = m.args[5], let bpp = bytesPerPixel(shmFormat: format), Int64(stride) < Int64(width) * Int64(bpp) {
                throw MessageFault(objectID: sender, code: 1, message: "stride \(stride) is less than width \(width) x \(bpp) bytes")
            }
            if regionPools.contains(sender) {
                let length = UInt64(stride) * UInt64(height)
                guard let shared = owner.hostRegion, shared.registry.buffer(containing: UInt64(offset), length: length) != nil else {
                    throw MessageFault(objectID: sender, code: 1, message: "buffer at shared-region offset \(offset) (\(length) bytes) is not inside a registered buffer")
                }
            }
        case ("wl_shm_pool", "destroy"):
            poolSizes.removeValue(forKey: sender)
            regionPools.remove(sender)
        case (let iface, "receive") where Self.offerInterfaces.contains(iface):
            // Not a protocol error (the source decides what to write), but a
            // well-behaved client only asks for a type it was offered.
            if case .string(let mime?) = m.args[0], offeredMimeTypes[sender]?.contains(mime) != true {
                Log.warning("\(tag): \(iface)@\(sender).receive asks for '\(String(decoding: mime, as: UTF8.self))', which was never offered; passing it on")
            }
        case (let iface, "destroy") where Self.offerInterfaces.contains(iface):
            offeredMimeTypes.removeValue(forKey: sender)
        default:
            break
        }
        return true
    }

    /// Records the mime types announced for clipboard and drag-and-drop offers.
    private func noteOfferedMimeTypes(_ m: ParsedMessage) {
        // A new offer (data_offer events): start with no types. The
        // compositor may reuse the id of an offer destroyed earlier.
        for (spec, arg) in zip(m.spec.args, m.args) {
            if case .newID(let offer) = arg, let iface = spec.interface, Self.offerInterfaces.contains(iface) {
                offeredMimeTypes[offer] = []
            }
        }
        guard m.spec.name == "offer", Self.offerInterfaces.contains(m.target.interface.name),
              case .string(let mime?)? = m.args.first else { return }
        // Bounded: a compositor announcing thousands of types is not helped by more.
        if offeredMimeTypes[m.header.objectID, default: []].count < 1024 {
            offeredMimeTypes[m.header.objectID, default: []].insert(mime)
        }
    }

    /// Called for each resource a create_pool message carries.
    override func noteIncomingResource(_ rid: UInt32, message: ParsedMessage) throws(MessageFault) {
        if message.target.interface.name == "zwp_virtual_keyboard_v1", message.spec.name == "keymap",
           case .uint(let size) = message.args[2] {
            // The compositor maps `size` bytes of the file. A size past the
            // end of the file makes it read beyond EOF: sway 1.7 dies of
            // SIGBUS (found by SwayHostileInputTests). The file's size is the
            // resource's, so hold the guest to it.
            guard Int64(size) <= backingSize(of: rid) else {
                throw MessageFault(objectID: message.header.objectID, code: 0,
                                   message: "keymap of \(size) bytes on a \(backingSize(of: rid))-byte resource")
            }
            return
        }
        guard message.target.interface.name == "wl_shm", message.spec.name == "create_pool",
              case .newID(let pool) = message.args[0], case .int(let size) = message.args[2] else { return }
        guard Int64(size) <= backingSize(of: rid) else {
            throw MessageFault(objectID: message.header.objectID, code: 1, message: "pool of \(size) bytes on a \(backingSize(of: rid))-byte resource")
        }
        poolSizes[pool] = (rid, Int64(size))
        if case .region? = resources[rid] { regionPools.insert(pool) } else { regionPools.remove(pool) }
    }

    private func backingSize(of rid: UInt32) -> Int64 {
        switch resources[rid] {
        case .memory(let m)?: return Int64(m.size)
        case .region(let size)?: return Int64(size)
        default: return 0
        }
    }
}
