import PortholeSystem

/// One channel of a link (docs/link-protocol.md §5-7): the open/accept/close
/// handshake, credit with `CreditWindow`, an ordered outbox of Wayland bytes
/// and resource references, the channel's resources with every check the
/// peer's frames must pass, and pipe data under credit. It knows nothing of
/// Wayland: its delegate reads and writes the messages.
public final class LinkChannel {
    public let id: UInt32
    /// What the channel carries on the host side.
    public let service: ChannelService
    let link: LinkEndpoint
    unowned let channelSet: ChannelSet
    public weak var delegate: LinkChannelDelegate?
    // `@exclusivity(unchecked)`, as `WriteQueue.bytes` (which says why): every
    // access to these ends before anything that could reach back here.
    @exclusivity(unchecked) var credit: CreditWindow
    public private(set) var isEstablished = false
    public private(set) var isClosed = false
    /// Set while handling the peer's channelClose: closing then sends no
    /// close of our own, only the one acknowledgement. (A failed write to a
    /// client that had just hung up once sent a second close, which the
    /// host took as a frame for an unknown channel, ending the whole link.)
    private var peerIsClosing = false
    /// A creditRequest was sent and no progress made since.
    var creditRequested = false
    @exclusivity(unchecked) private var outbox: [UInt8] = []
    @exclusivity(unchecked) private var outboxResources: [UInt32] = []
    private var flushing = false
    let resources: ChannelResources

    /// The outbox is sent as a data frame once it holds this many bytes.
    static let outboxFlushBytes = 32768

    init(id: UInt32, link: LinkEndpoint, set: ChannelSet, service: ChannelService = .compositor) {
        self.id = id
        self.service = service
        self.link = link
        self.channelSet = set
        credit = CreditWindow(bufAlloc: link.limits.channelBuffer)
        resources = ChannelResources(role: link.role, limits: link.limits)
    }

    /// "link name channel N", for logs.
    public var name: String { "\(link.name) channel \(id)" }
    public var limits: LinkLimits { link.limits }
    var loop: EventLoop { channelSet.loop }
    var counters: LinkCounters { channelSet.counters }
    /// Too much is queued on the connection this channel's frames go on: producers should pause.
    public var isCongested: Bool { link.isCongested(channel: id) }
    /// Bytes queued on that connection (every channel's there) and not yet written.
    public var linkQueuedBytes: Int { link.queuedBytes(channel: id) }
    /// Guest: this channel's frames go on the link's bulk lane.
    public var isOnLane: Bool { link.isOnLane(id) }
    /// Host: the guest moved this channel to the bulk lane; its frames come there.
    var onLane = false

    // MARK: Outbox

    /// Whether `n` more bytes may be queued now. If not, whatever is queued is
    /// sent and the peer is asked for credit; the delegate hears
    /// `channelCanSend` when there is room again.
    public func reserve(_ n: Int) -> Bool {
        if n <= credit.peerFree - outbox.count { return true }
        flush()
        if !isClosed && outbox.isEmpty && n <= credit.peerFree { return true }
        requestCredit()
        return false
    }

    /// Queues one whole Wayland message and the resources standing for its
    /// fds. The caller reserved its size.
    public func append(_ message: [UInt8], resources refs: [UInt32] = []) {
        guard !isClosed else { return }
        if outboxResources.count + refs.count > limits.maxResourcesPerData { flush() }
        outboxResources.append(contentsOf: refs)
        outbox.append(contentsOf: message)
        if outbox.count >= Self.outboxFlushBytes { flush() }
    }

    /// Sends the queued messages as one data frame, after whatever the
    /// delegate must send first.
    public func flush() {
        guard !isClosed, !flushing, !outbox.isEmpty || !outboxResources.isEmpty else { return }
        // The updates the delegate sends and the messages behind them: one write.
        link.corked {
            flushing = true
            delegate?.channelWillFlush(self)
            flushing = false
            guard !isClosed else { return }
            credit.didSend(outbox.count)
            // Progress: a later stall may ask for credit again.
            if !outbox.isEmpty { creditRequested = false }
            counters.protocolBytesSent += UInt64(outbox.count)
            link.send(.data(channel: id, credit: credit.advertise(), resources: outboxResources, bytes: outbox))
            outbox.removeAll(keepingCapacity: true)
            outboxResources.removeAll(keepingCapacity: true)
        }
    }

    /// Sends `bytes` (whole messages of our own, such as a Wayland error for
    /// the client on the other side) at once if the credit allows. Returns
    /// whether they were sent.
    @discardableResult
    public func sendNow(_ bytes: [UInt8]) -> Bool {
        guard !isClosed, isEstablished, bytes.count <= credit.peerFree - outbox.count else { return false }
        append(bytes)
        flush()
        return true
    }

    /// `n` bytes were written to the local socket. Bytes this side made up
    /// itself count too, so at most what the peer sent is taken as forwarded.
    public func didDeliver(_ n: Int) {
        let k = min(n, credit.buffered)
        if k > 0 && credit.didForward(k) { sendCreditUpdate() }
    }

    func requestCredit() {
        guard !creditRequested, !isClosed else { return }
        creditRequested = true
        link.send(.creditRequest(channel: id))
    }

    func sendCreditUpdate() {
        link.send(.creditUpdate(channel: id, credit: credit.advertise()))
    }

    // MARK: Life cycle

    /// The peer's buffer size became known.
    func establish(peerBufAlloc: UInt32) {
        isEstablished = true
        credit.peerAdvertised(.init(bufAlloc: peerBufAlloc, fwdCnt: 0))
        delegate?.channelDidEstablish(self)
    }

    /// Closes the channel from this side: tells the peer (unless it is
    /// closing it already), frees every resource, and tells the delegate.
    public func close(code: ChannelCloseCode = .normal, reason: String) {
        guard !isClosed else { return }
        let notify = !peerIsClosing && !link.isClosed
        Log.debug("\(name): closed: \(reason)")
        if notify {
            link.send(.channelClose(channel: id, code: code.rawValue, reason: limits.reasonText(reason)))
        }
        tearDown(awaitingAck: notify, cause: .local)
    }

    /// The link ended: close without sending anything.
    func linkClosed(reason: String) {
        guard !isClosed else { return }
        tearDown(awaitingAck: false, cause: .linkClosed(reason: reason))
    }

    private func peerClosed(code: UInt32, reason: String) {
        peerIsClosing = true
        Log.debug("\(name): peer closed the channel (code \(code)): \(LogText.escaped(reason))")
        tearDown(awaitingAck: false, cause: .peer(code: ChannelCloseCode(rawValue: code), reason: reason))
        // The acknowledgement, so the peer can forget the id.
        link.send(.channelClose(channel: id, code: ChannelCloseCode.normal.rawValue, reason: "closed"))
    }

    private func tearDown(awaitingAck: Bool, cause: ChannelCloseCause) {
        isClosed = true
        outbox.removeAll()
        outboxResources.removeAll()
        for rid in Array(resources.entries.keys) { dropResource(rid) }
        channelSet.channelClosed(self, awaitingAck: awaitingAck)
        delegate?.channelDidClose(self, cause: cause)
    }

    // MARK: Frames from the peer

    /// Handles a frame for this channel. Throwing ends the link.
    func receive(_ frame: LinkFrame) throws(LinkProtocolError) {
        guard !isClosed else { return }
        switch frame {
        case .data(_, let c, let refs, let bytes):
            credit.peerAdvertised(c)
            try credit.didReceive(bytes.count, channel: id)
            delegate?.channel(self, received: bytes, resources: refs)
            resumeProducers()
        case .creditUpdate(_, let c):
            credit.peerAdvertised(c)
            resumeProducers()
        case .creditRequest:
            sendCreditUpdate()
        case .resourceOpen(_, let rid, let kind, let size):
            try openRemoteResource(rid, kind: kind, size: size)
        case .resourceExtend(_, let rid, let size):
            let (m, more) = try resources.extendable(rid, to: size, channel: id)
            guard try holdForPeer(fds: 0, bytes: more, resource: rid) else { return }
            do { try m.extend(to: size) } catch {
                channelSet.memory.give(more)
                throw .resourceLimit("cannot grow resource \(rid): \(error)")
            }
            resources.grew(by: more)
        case .resourceUpdate(_, let rid, let ranges, let bytes):
            let m = try resources.updatable(rid, ranges: ranges, channel: id)
            counters.updateBytesCopied += m.apply(ranges, bytes)
        case .resourceClose(_, let rid):
            try resources.checkPeerClose(rid, channel: id)
            dropResource(rid)
        case .pipeData(_, let rid, let bytes):
            try receivePipeData(rid, bytes)
        case .pipeClose(_, let rid):
            try receivePipeClose(rid)
        case .channelClose(_, let code, let reason):
            peerClosed(code: code, reason: reason)
        default:
            throw .unexpected("frame not valid on a channel: \(frame.traceLine)")
        }
    }

    /// Where a `resourceUpdate`'s data goes: straight into the memfd
    /// mapping, after the same checks as `receive(.resourceUpdate)`. Nil when
    /// the channel is closed (the frame is then dropped the usual way).
    func updateTarget(resource rid: UInt32, ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget? {
        guard !isClosed else { return nil }
        let m = try resources.updatable(rid, ranges: ranges, channel: id)
        guard let mapping = m.mapping, let base = mapping.base, UInt64(mapping.size) >= m.size else { return nil }
        let counters = self.counters
        return UpdateTarget(base: base, limit: m.size, owner: mapping) { t in
            counters.updateBytesCopied += UInt64(t.copied)
            counters.updateBytesOnThreads += UInt64(t.onThread)
        }
    }

    /// Credit came back or the link drained.
    func resumeProducers() {
        guard !isClosed else { return }
        delegate?.channelCanSend(self)
        resumePipes()
    }

    private func openRemoteResource(_ rid: UInt32, kind: ResourceKind, size: UInt64) throws(LinkProtocolError) {
        try resources.checkOpen(rid, channel: id)
        switch kind {
        case .shmPool, .readOnlyFile:
            guard size <= limits.maxResourceSize else { throw .resourceLimit("resource \(rid) of \(size) bytes exceeds \(limits.maxResourceSize)") }
            guard kind != .readOnlyFile || size <= limits.maxReadOnlyFileSize else {
                throw .resourceLimit("read-only file \(rid) of \(size) bytes exceeds \(limits.maxReadOnlyFileSize)")
            }
            guard try holdForPeer(fds: 1, bytes: size, resource: rid) else { return }
            do { resources.addMemory(rid, try MemoryResource(kind: kind, size: size)) } catch {
                channelSet.memory.give(size)
                channelSet.fds.give(1)
                throw .resourceLimit("cannot create resource \(rid): \(error)")
            }
        case .region:
            guard let shared = channelSet.sharedRegion else {
                throw .regionMismatch("resource \(rid) names the shared region, but none was agreed on this link")
            }
            guard size == shared.size else {
                throw .regionMismatch("resource \(rid) names a \(size)-byte region; the shared region is \(shared.size) bytes")
            }
            resources.addRemote(rid, .region(size: size))
        case .commonRegion:
            guard link.role == .guest else { throw .unexpected("resource \(rid) names a sharing region, which only the host offers") }
            // The host declared this guest a sharer of a region it does not
            // map (a configuration mistake): only this channel's consumer fails.
            guard let common = channelSet.commonRegion, size == common.size else {
                let why = "the host shares a \(size)-byte region with this guest, which maps "
                    + (channelSet.commonRegion.map { "one of \($0.size) bytes" } ?? "none") + " (porthole guest --shared-region)"
                Log.warning("\(name): \(why); closing the channel")
                close(code: .unavailable, reason: why)
                return
            }
            resources.addRemote(rid, .commonRegion(size: size))
        case .pipe:
            guard size == 0 else { throw .malformed(.resourceOpen, "pipe with a size") }
            guard try holdForPeer(fds: 2, bytes: 0, resource: rid) else { return }
            try openPipeSource(rid)
        }
    }

    /// Counts `fds` descriptors and `bytes` of memory held for a resource
    /// of the peer's. Beyond the link's own quota that is the peer's fault
    /// and ends the link (thrown); when the host's total for all guests is
    /// spent, this guest may be within its quota, so only this channel
    /// fails (closed here, false returned).
    private func holdForPeer(fds n: UInt64, bytes: UInt64, resource rid: UInt32) throws(LinkProtocolError) -> Bool {
        let set = channelSet
        var short: (level: Budget, own: Budget, asked: UInt64)?
        if bytes > 0, let level = set.memory.take(bytes) {
            short = (level, set.memory, bytes)
        } else if n > 0, let level = set.fds.take(n, keepingFree: set.fdReserve(for: .resource)) {
            set.memory.give(bytes)
            short = (level, set.fds, n)
        }
        guard let short else { return true }
        let why = "resource \(rid) on channel \(id): \(short.level.exhausted(asking: short.asked))"
        if short.level === short.own { throw .resourceLimit(why) }
        Log.warning("\(name): \(why); closing the channel")
        close(code: .unavailable, reason: why)
        return false
    }

    // MARK: Resources for the local user

    /// Creates a resource of this side for memory its user replicates (an
    /// shm pool, or the shared region), and tells the peer.
    public func openResource(kind: ResourceKind, size: UInt64) throws(ChannelError) -> UInt32 {
        let rid = resources.allocateID()
        try resources.addLocal(rid, .local(kind))
        link.send(.resourceOpen(channel: id, resource: rid, kind: kind, size: size))
        return rid
    }

    /// A local pool resource grew.
    public func extendResource(_ rid: UInt32, to size: UInt64) {
        guard !isClosed, case .local? = resources[rid] else { return }
        link.send(.resourceExtend(channel: id, resource: rid, size: size))
    }

    /// Closes a resource this side created, after every queued message
    /// (which may still name it) has gone.
    public func closeResource(_ rid: UInt32) {
        guard !isClosed, resources[rid] != nil else { return }
        flush()
        guard !isClosed else { return }
        dropResource(rid)
        link.send(.resourceClose(channel: id, resource: rid))
    }

    /// Sends a whole read-only file (a keymap) as a new resource. The peer
    /// drops it once the message carrying it is delivered.
    public func sendFile(_ contents: [UInt8]) throws(ChannelError) -> UInt32 {
        let rid = resources.allocateID()
        try resources.addLocal(rid, .local(.readOnlyFile))
        link.send(.resourceOpen(channel: id, resource: rid, kind: .readOnlyFile, size: UInt64(contents.count)))
        let box = FileContents(contents)
        box.bytes.withUnsafeBytes { b in
            guard let base = b.baseAddress else { return }
            _ = link.sendUpdate(channel: id, resource: rid, base: base, runs: [UpdateRun(offset: 0, length: b.count)], owner: box)
        }
        link.detach(box)
        // Our side keeps no state for a file once it is sent.
        _ = resources.remove(rid)
        return rid
    }

    /// Sends `runs` of the memory at `base` as updates of local resource
    /// `rid` (see `LinkEndpoint.sendUpdate` for what `owner` promises).
    @discardableResult
    public func sendUpdate(resource rid: UInt32, base: UnsafeRawPointer, runs: [UpdateRun], owner: AnyObject) -> Int {
        guard !isClosed else { return 0 }
        return link.sendUpdate(channel: id, resource: rid, base: base, runs: runs, owner: owner)
    }

    /// Copies bytes of `owner` still queued by reference (before it changes or unmaps them).
    public func detach(_ owner: AnyObject) { link.detach(owner) }

    /// Bytes the link queued by reference so far.
    public var referencedBytes: UInt64 { link.referencedBytes }

    /// The fd to hand to the local peer for resource `rid` of the peer's,
    /// which must be of `kind` (for `.shmPool`, the shared region stands in
    /// too). A read-only file and a pipe end are handed out once.
    public func fd(forResource rid: UInt32, as kind: ResourceKind) throws(ChannelError) -> OwnedFD {
        switch (kind, resources[rid]) {
        case (.shmPool, .memory(let m)?) where m.kind == .shmPool,
             (.readOnlyFile, .memory(let m)?) where m.kind == .readOnlyFile:
            do {
                let fd = try m.fdForMessage()
                // A read-only file is consumed by the one message that carries it.
                if m.kind == .readOnlyFile { dropResource(rid) }
                return fd
            } catch { throw ChannelError("cannot pass resource \(rid): \(error)") }
        case (.shmPool, .commonRegion?):
            guard let common = channelSet.commonRegion else { throw ChannelError("no sharing region for resource \(rid)") }
            do { return try common.fd.duplicate() } catch { throw ChannelError("cannot pass the sharing region: \(error)") }
        case (.shmPool, .region?):
            guard let shared = channelSet.sharedRegion else { throw ChannelError("no shared region for resource \(rid)") }
            do { return try shared.fd.duplicate() } catch { throw ChannelError("cannot pass the shared region: \(error)") }
        case (.pipe, .pipeSource(let source)?):
            guard let w = source.writeEnd else { throw ChannelError("pipe resource \(rid) used twice") }
            source.writeEnd = nil
            return w
        default:
            throw ChannelError("resource \(rid) is missing or not a \(kind)")
        }
    }

    /// The size of the peer's memory resource or region `rid`, for checking
    /// what a message says of it.
    public func resourceSize(_ rid: UInt32) -> UInt64? {
        switch resources[rid] {
        case .memory(let m)?: return m.size
        case .region(let size)?: return size
        default: return nil
        }
    }

    /// Whether `rid` is a sharing region of several guests standing in for a view's file.
    public func isCommonRegion(_ rid: UInt32) -> Bool {
        if case .commonRegion? = resources[rid] { return true }
        return false
    }

    /// Whether `rid` is the shared region standing in for a pool.
    public func isSharedRegion(_ rid: UInt32) -> Bool {
        if case .region? = resources[rid] { return true }
        return false
    }

    func dropResource(_ rid: UInt32) {
        guard let (entry, bytes) = resources.remove(rid) else { return }
        if bytes > 0 { channelSet.memory.give(bytes) }
        let fds = ChannelResources.descriptors(of: entry)
        if fds > 0 { channelSet.fds.give(fds) }
        switch entry {
        case .memory, .region, .commonRegion, .local: break
        case .pipeSource(let s):
            if let t = s.token { loop.unregister(t) }
            s.readEnd.close()
            s.writeEnd?.close()
        case .pipeSink(let s):
            if let t = s.token { loop.unregister(t) }
            s.writeEnd.close()
        }
    }
}

/// A file's bytes kept alive while the link may still refer to them.
private final class FileContents {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}
