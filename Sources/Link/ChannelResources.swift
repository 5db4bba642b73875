import PortholeSystem

/// The resources of one channel (docs/link-protocol.md §7): the id space
/// with its owner bit, what each id stands for on this side, and every check
/// a resource frame from the peer must pass. It holds no socket and sends
/// nothing: `LinkChannel` does that.
final class ChannelResources {
    /// What a resource id stands for on this side.
    enum Entry {
        /// Memory the peer fills (a wl_shm pool or a read-only file).
        case memory(MemoryResource)
        /// The shared region standing in for a pool's fd (host side).
        case region(size: UInt64)
        /// A sharing region of several guests standing in for a view's fd (guest side).
        case commonRegion(size: UInt64)
        /// A resource this side created; its user keeps the memory.
        case local(ResourceKind)
        /// A pipe whose read end we drain toward the peer.
        case pipeSource(PipeSource)
        /// A local pipe write end receiving the peer's pipe data.
        case pipeSink(PipeSink)
    }

    private let role: LinkRole
    private let limits: LinkLimits
    private(set) var entries: [UInt32: Entry] = [:]
    /// Pipes this side closed that the peer may still send frames for (bounded).
    private var closedPipes: Set<UInt32> = []
    private var closedPipeOrder: [UInt32] = []
    /// Pipe sources waiting for credit or link room.
    private var pausedPipes: Set<UInt32> = []
    private var nextID: UInt32
    /// Bytes of peer-created memory held, counted against the link's budget.
    private(set) var memoryBytes: UInt64 = 0

    /// Pipes closed earlier that are remembered, so late frames are not errors.
    static let rememberedClosedPipes = 256

    init(role: LinkRole, limits: LinkLimits) {
        self.role = role
        self.limits = limits
        nextID = role == .host ? LinkProtocol.hostResourceBit | 1 : 1
    }

    subscript(rid: UInt32) -> Entry? { entries[rid] }

    /// Descriptors an entry holds while it lives, as counted against the
    /// link's budget: a memfd, a pipe's two ends (the write end is counted
    /// until the resource goes, though handed over earlier), a local write end.
    static func descriptors(of entry: Entry) -> UInt64 {
        switch entry {
        case .memory: return 1
        case .pipeSource: return 2
        case .pipeSink: return 1
        case .region, .commonRegion, .local: return 0
        }
    }
    var count: Int { entries.count }

    /// Whether `rid` carries the peer's owner bit.
    func isPeerOwned(_ rid: UInt32) -> Bool {
        let hostOwned = rid & LinkProtocol.hostResourceBit != 0
        return role == .host ? !hostOwned : hostOwned
    }

    /// A fresh id with this side's owner bit: counts up, wraps within 31
    /// bits, skips 0 and ids in use or recently closed.
    func allocateID() -> UInt32 {
        let bit = nextID & LinkProtocol.hostResourceBit
        func next(_ v: UInt32) -> UInt32 { bit | ((v &+ 1) & ~LinkProtocol.hostResourceBit) }
        while entries[nextID] != nil || closedPipes.contains(nextID) || nextID & ~LinkProtocol.hostResourceBit == 0 {
            nextID = next(nextID)
        }
        let rid = nextID
        nextID = next(nextID)
        return rid
    }

    /// Records a resource this side created, within the per-channel limit.
    func addLocal(_ rid: UInt32, _ entry: Entry) throws(ChannelError) {
        guard entries.count < limits.maxResourcesPerChannel else {
            throw ChannelError("too many shared resources on this connection (\(limits.maxResourcesPerChannel))")
        }
        entries[rid] = entry
    }

    /// Checks a `resourceOpen` from the peer: owner bit, id free, count.
    func checkOpen(_ rid: UInt32, channel: UInt32) throws(LinkProtocolError) {
        guard isPeerOwned(rid) else { throw .unexpected("resource id \(rid) has the wrong owner bit") }
        guard entries[rid] == nil else { throw .resourceInUse(channel: channel, resource: rid) }
        guard entries.count < limits.maxResourcesPerChannel else {
            throw .resourceLimit("more than \(limits.maxResourcesPerChannel) resources on channel \(channel)")
        }
    }

    /// Adds peer memory of `size` bytes, already reserved in the link's budget.
    func addMemory(_ rid: UInt32, _ m: MemoryResource) {
        entries[rid] = .memory(m)
        memoryBytes += m.size
    }

    func addRemote(_ rid: UInt32, _ entry: Entry) { entries[rid] = entry }

    /// The pool memory `rid` may grow to `size`; returns it and the bytes to add.
    func extendable(_ rid: UInt32, to size: UInt64, channel: UInt32) throws(LinkProtocolError) -> (MemoryResource, UInt64) {
        if case .region? = entries[rid] { throw .unexpected("resource \(rid) is the shared region, which cannot be extended") }
        guard case .memory(let m)? = entries[rid], m.kind == .shmPool else { throw .unknownResource(channel: channel, resource: rid) }
        guard size >= m.size else { throw .unexpected("resource \(rid) shrinks from \(m.size) to \(size)") }
        guard size <= limits.maxResourceSize else { throw .resourceLimit("resource \(rid) cannot grow to \(size) bytes") }
        return (m, size - m.size)
    }

    func grew(by n: UInt64) { memoryBytes += n }

    /// The memory `rid` if the peer may write `ranges` into it: it exists, is
    /// memory (not the shared region), is not sealed, and every range lies inside.
    func updatable(_ rid: UInt32, ranges: [UpdateRange], channel: UInt32) throws(LinkProtocolError) -> MemoryResource {
        if case .region? = entries[rid] { throw .unexpected("resource \(rid) is the shared region, which takes no updates over the link") }
        guard case .memory(let m)? = entries[rid] else { throw .unknownResource(channel: channel, resource: rid) }
        guard !m.sealed else { throw .unexpected("update to sealed resource \(rid)") }
        if let r = ranges.first(where: { !$0.fits(within: m.size) }) {
            throw .rangeOutsideResource(resource: rid, offset: r.offset, length: r.length, size: m.size)
        }
        return m
    }

    /// Checks a `resourceClose` from the peer.
    func checkPeerClose(_ rid: UInt32, channel: UInt32) throws(LinkProtocolError) {
        guard entries[rid] != nil else { throw .unknownResource(channel: channel, resource: rid) }
        guard isPeerOwned(rid) else { throw .unexpected("peer closed resource \(rid) it does not own") }
    }

    /// Forgets `rid`; returns what it was (the caller releases it) and the
    /// peer memory bytes it held.
    func remove(_ rid: UInt32) -> (Entry, UInt64)? {
        guard let e = entries.removeValue(forKey: rid) else { return nil }
        var bytes: UInt64 = 0
        if case .memory(let m) = e {
            bytes = m.size
            memoryBytes -= m.size
        }
        return (e, bytes)
    }

    func pipePaused(_ rid: UInt32) { pausedPipes.insert(rid) }
    var hasPausedPipes: Bool { !pausedPipes.isEmpty }

    /// The paused pipes, forgotten here: those that pause again say so again.
    func takePausedPipes() -> Set<UInt32> {
        defer { pausedPipes.removeAll(keepingCapacity: true) }
        return pausedPipes
    }

    /// Remembers a pipe we closed, so late frames for it are dropped, not errors.
    func rememberClosedPipe(_ rid: UInt32) {
        closedPipes.insert(rid)
        closedPipeOrder.append(rid)
        if closedPipeOrder.count > Self.rememberedClosedPipes { closedPipes.remove(closedPipeOrder.removeFirst()) }
    }

    func isClosedPipe(_ rid: UInt32) -> Bool { closedPipes.contains(rid) }

    /// A late pipeClose for a pipe we closed: it ends the memory of it.
    func forgetClosedPipe(_ rid: UInt32) -> Bool { closedPipes.remove(rid) != nil }
}
