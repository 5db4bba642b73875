import Link
import PortholeSystem
import Sharing
import Wayland

/// The host side of a guest client's connection: everything from the guest
/// is checked here — this is the trust boundary (docs/ARCHITECTURE.md lists
/// the checks) — and globals the proxies cannot carry are hidden.
final class HostHandler: ConnectionHandler {
    private var globals = GlobalFilter()
    private var shm = ShmPolicy()
    // `@exclusivity(unchecked)`, as `WriteQueue.bytes` (which says why): asked
    // of every request, and each is a value with no callback in it, so an
    // access always ends before anything could reach back here.
    @exclusivity(unchecked) private var offers = OfferTracker()
    @exclusivity(unchecked) private var clipboard: ClipboardGate
    private let policy: GuestPolicy
    private let titles: TitleLabel
    /// This guest's shared-region registry, when the link agreed on a region.
    private let region: HostRegionSession?
    @exclusivity(unchecked) private var commits = RegionCommitTracker()
    /// Told of each commit of a region wl_buffer: its registration and
    /// damage (the buffer service's "wayland-proxy" updates).
    private let onRegionCommit: ((UInt32, [Int32]) -> Void)?

    init(region: HostRegionSession?, policy: GuestPolicy, guestName: String, onRegionCommit: ((UInt32, [Int32]) -> Void)? = nil) {
        self.region = region
        self.onRegionCommit = onRegionCommit
        self.policy = policy
        clipboard = ClipboardGate(direction: policy.clipboard)
        titles = TitleLabel(guestName: guestName)
    }

    // MARK: Events from the compositor

    func outgoing(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        offers.event(m)
        switch m.spec.kind {
        case .wlRegistryGlobal?:
            let e = try m.typed(WlRegistryGlobal.self)
            guard let shown = globals.global(e, registry: m.sender, tables: c.objects.tables, translations: c.translations, policy: policy) else {
                return .drop
            }
            if shown != e { m.rewrite(shown) }
        case .wlRegistryGlobalRemove?:
            return globals.globalRemoveIsShown(try m.typed(WlRegistryGlobalRemove.self), registry: m.sender) ? .forward : .drop
        case .wlShmFormat?:
            return shm.formatAdvertised(try m.typed(WlShmFormat.self)) ? .forward : .drop
        default:
            clipboard.filterSelection(&m)
        }
        return .forward
    }

    // MARK: Requests from the guest

    func incoming(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        let sender = m.sender
        if let onRegionCommit, let (registration, damage) = try commits.request(m) { onRegionCommit(registration, damage) }
        switch m.spec.kind {
        case .wlRegistryBind?:
            try globals.checkBind(try m.typed(WlRegistryBind.self), registry: sender)
        case .wlShmCreatePool?:
            guard let rid = resources.first else { break }
            try shm.createPool(try m.typed(WlShmCreatePool.self), shmID: sender, resource: rid, channel: c.channel)
        case .wlShmPoolResize?:
            try shm.resize(try m.typed(WlShmPoolResize.self), poolID: sender, channel: c.channel)
        case .wlShmPoolCreateBuffer?:
            let r = try m.typed(WlShmPoolCreateBuffer.self)
            if let registration = try shm.createBuffer(r, poolID: sender, registry: region.map { $0.registry }), onRegionCommit != nil {
                commits.bufferCreated(r.id, registration: registration)
            }
        case .wlShmPoolDestroy?:
            shm.destroyPool(sender)
        case .zwpVirtualKeyboardV1Keymap?:
            try checkKeymap(try m.typed(ZwpVirtualKeyboardV1Keymap.self), keyboard: sender, resource: resources.first, channel: c.channel)
        case .xdgToplevelSetTitle? where policy.labelTitles:
            m.rewrite(XdgToplevelSetTitle(title: titles.label(try m.typed(XdgToplevelSetTitle.self).title)))
        case .wlShellSurfaceSetTitle? where policy.labelTitles:
            m.rewrite(WlShellSurfaceSetTitle(title: titles.label(try m.typed(WlShellSurfaceSetTitle.self).title)))
        default:
            if clipboard.dropsRequest(m) { return .drop }
            if OfferTracker.isReceive(m) { try clipboard.checkReceive(offer: sender) }
            if OfferTracker.isDestroy(m) { clipboard.offerDestroyed(sender) }
            offers.request(m, channelName: c.name)
        }
        return .forward
    }

    /// The compositor maps `size` bytes of the keymap file. A size past the
    /// end of the file makes it read beyond EOF: sway 1.7 dies of SIGBUS
    /// (found by SwayHostileInputTests). The file's size is the resource's,
    /// so hold the guest to it.
    private func checkKeymap(_ r: ZwpVirtualKeyboardV1Keymap, keyboard: UInt32, resource: UInt32?, channel: LinkChannel) throws(MessageFault) {
        let backing = resource.flatMap { channel.resourceSize($0) } ?? 0
        guard UInt64(r.size) <= backing else {
            throw MessageFault(objectID: keyboard, code: VirtualKeyboardErrorCode.noKeymap.rawValue,
                               message: "keymap of \(r.size) bytes on a \(backing)-byte resource")
        }
    }
}
