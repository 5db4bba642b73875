import Glibc
import Link
import PortholeSystem
import Wayland

/// The owner of a link's channels (the guest proxy, or one host link session).
protocol ChannelOwner: AnyObject {
    var stats: ProxyStats { get }
    /// Accounts resource memory against the link's total; false if over the limit.
    func reserveResourceBytes(_ n: UInt64) -> Bool
    func releaseResourceBytes(_ n: UInt64)
    /// The channel closed and released everything; forget it. When
    /// `awaitingAck`, frames for it may still arrive until the peer's close.
    func channelDidClose(_ channel: ChannelEndpoint, awaitingAck: Bool)
    /// The link's shared region on the host, if any.
    var hostRegion: HostRegionSession? { get }
}

extension ChannelOwner {
    var hostRegion: HostRegionSession? { nil }
}

/// One Wayland connection joined to one link channel. It owns the socket,
/// the per-channel credit window, the object map and every resource of the
/// channel. Subclasses add what only one side does (the guest's shm
/// mirroring, the host's global filtering).
class ChannelEndpoint {
    let id: UInt32
    let link: LinkEndpoint
    let loop: EventLoop
    unowned let owner: ChannelOwner
    let objects: ObjectMap
    let translations = FdTranslationTable.standard
    /// True on the guest (the socket carries requests), false on the host.
    let socketCarriesRequests: Bool

    private let socket: OwnedFD
    private var token: EventLoop.Token?
    private let input = ReadBuffer()
    private let output = WriteQueue()
    var credit: CreditWindow
    /// The peer's buffer size is known (open/accept exchanged).
    var established = false
    private(set) var closed = false
    /// Set while handling the peer's channelClose. Closing then never sends a
    /// close of our own: peerClosed sends the one acknowledgement. Without
    /// this, a failed write to a client that had just hung up (the guest
    /// passing on the host's error) sent a second channelClose, which the
    /// host, having taken the first as the acknowledgement, rejected as a
    /// frame for an unknown channel, ending the whole link.
    private var peerIsClosing = false
    private var creditRequested = false
    private var pumping = false
    private var readPaused = false
    private var pendingBytes: [UInt8] = []
    private var pendingResources: [UInt32] = []
    private var forwardedPosition: UInt64 = 0

    var resources: [UInt32: ChannelResource] = [:]
    /// Pipes this side closed that the peer may still send frames for.
    private var closedPipes: Set<UInt32> = []
    private var closedPipeOrder: [UInt32] = []
    private var resourceBytes: UInt64 = 0
    private var nextResourceID: UInt32

    var stats: ProxyStats { owner.stats }
    var limits: LinkLimits { link.limits }
    var tag: String { "\(link.name) channel \(id)" }

    init(id: UInt32, socket: OwnedFD, link: LinkEndpoint, loop: EventLoop, owner: ChannelOwner, tables: ProtocolTables, socketCarriesRequests: Bool) throws(SystemError) {
        self.id = id
        self.socket = socket
        self.link = link
        self.loop = loop
        self.owner = owner
        self.socketCarriesRequests = socketCarriesRequests
        objects = ObjectMap(tables: tables)
        credit = CreditWindow(bufAlloc: link.limits.channelBuffer)
        nextResourceID = link.role == .host ? LinkProtocol.hostResourceBit | 1 : 1
        token = try loop.register(socket.rawValue, events: .readable) { [unowned self] events in
            self.socketEvent(events)
        }
        stats.clients += 1
    }

    // MARK: Hooks for subclasses

    /// Looks at a message read from the local socket before it is forwarded.
    /// Returns false to drop it. `fds` are the fds that came with it.
    func inspectOutgoing(_ message: inout ParsedMessage, fds: inout [OwnedFD]) throws(MessageFault) -> Bool { true }

    /// Looks at a message arriving from the link before it goes to the
    /// socket. Returns false to drop it (its effects are not tracked either).
    func inspectIncoming(_ message: ParsedMessage) throws(MessageFault) -> Bool { true }

    /// Whether a message from the link for `objectID` is dropped unread: an
    /// object the local peer does not know under that id.
    func swallowsIncoming(objectID: UInt32) -> Bool { false }

    /// Sees each resource an incoming message refers to, before the message is checked.
    func noteIncomingResource(_ rid: UInt32, message: ParsedMessage) throws(MessageFault) {}

    /// Makes a resource for a wl_shm pool fd read from the local socket.
    func makeShmResource(_ fd: OwnedFD, message: ParsedMessage) throws(MessageFault) -> UInt32 {
        throw MessageFault.implementation("\(message.name) is not expected in this direction")
    }

    /// Reports a fault of the local peer or of the link peer and closes the channel.
    func fail(_ fault: MessageFault, localPeer: Bool) {
        closeChannel(reason: fault.description, notifyPeer: true)
    }

    // MARK: Life cycle

    /// The peer's buffer size became known.
    func establish(peerBufAlloc: UInt32) {
        established = true
        credit.peerAdvertised(.init(bufAlloc: peerBufAlloc, fwdCnt: 0))
        pumpOutgoing()
    }

    /// Closes the socket, frees every resource, tells the peer unless it told us.
    func closeChannel(reason: String, notifyPeer: Bool, code: UInt32 = 0) {
        guard !closed else { return }
        closed = true
        let notifyPeer = notifyPeer && !peerIsClosing
        Log.debug("\(tag): closed: \(reason)")
        if notifyPeer && !link.isClosed {
            link.send(.channelClose(channel: id, code: code, reason: String(reason.utf8.prefix(limits.maxReasonBytes)) ?? "closed"))
        }
        _ = try? output.flush(to: socket)
        if let t = token { loop.unregister(t) }
        token = nil
        output.discard()
        input.fds.removeAll()
        socket.close()
        for (rid, _) in resources { dropResource(rid) }
        stats.clients -= 1
        owner.channelDidClose(self, awaitingAck: notifyPeer && !link.isClosed)
    }

    /// Sends Wayland bytes of our own (an error, or an event only this proxy
    /// produces) to the local socket.
    func sendToSocket(_ bytes: [UInt8], fds: [OwnedFD] = []) {
        output.enqueue(bytes, fds: fds)
        flushSocket()
    }

    // MARK: Socket side

    private func socketEvent(_ events: EventLoop.Events) {
        if events.contains(.writable) { flushSocket() }
        guard !closed else { return }
        // .hangup is two epoll bits (HUP, RDHUP); either one means the peer is going.
        let hungUp = !events.isDisjoint(with: .hangup)
        if events.contains(.readable) || hungUp || events.contains(.error) {
            var alive = true
            if !readPaused || hungUp {
                do { alive = try input.fill(from: socket, limit: 65536) } catch {
                    closeChannel(reason: "socket error: \(error)", notifyPeer: true)
                    return
                }
            }
            pumpOutgoing()
            if !alive && !closed {
                closeChannel(reason: "\(socketCarriesRequests ? "client" : "compositor") disconnected", notifyPeer: true)
            }
        }
    }

    private func setReadPaused(_ paused: Bool) {
        guard paused != readPaused, let t = token else { return }
        readPaused = paused
        updateInterest(t)
    }

    private func updateInterest(_ t: EventLoop.Token) {
        var ev: EventLoop.Events = readPaused ? [] : .readable
        if !output.isEmpty { ev.insert(.writable) }
        loop.modify(t, events: ev)
    }

    /// Forwards whole messages from the socket while credit and the link allow.
    func pumpOutgoing() {
        // Sending can call back into the channel (credit, drain, close);
        // the loop below picks up whatever a nested call would have done.
        guard !pumping else { return }
        pumping = true
        defer { pumping = false }
        guard !closed else { return }
        guard established else { setReadPaused(true); return }
        guard input.fds.count <= Self.maxQueuedFds else {
            fail(.implementation("more than \(Self.maxQueuedFds) file descriptors sent ahead of their messages"), localPeer: true)
            return
        }
        while !closed {
            if link.isCongested { setReadPaused(true); break }
            let parsed: ParsedMessage?
            do {
                parsed = try input.withUnconsumed { bytes in
                    Result { () throws(MessageFault) -> ParsedMessage? in
                        try MessageParser.next(bytes, objects: objects, isRequest: socketCarriesRequests, availableFds: input.fds.count)
                    }
                }.get()
            } catch {
                stats.clientErrors += 1
                Log.warning("\(tag): \(socketCarriesRequests ? "client" : "compositor") sent a bad message: \(error)")
                fail(error, localPeer: true)
                return
            }
            guard var message = parsed else { setReadPaused(false); break }
            if message.header.size > credit.peerFree - pendingBytes.count {
                flushPending()
                if message.header.size > credit.peerFree {
                    if !creditRequested {
                        creditRequested = true
                        link.send(.creditRequest(channel: id))
                    }
                    setReadPaused(true)
                    break
                }
            }
            var fds = input.takeFds(message.spec.fdCount) ?? []
            let forward: Bool
            do {
                forward = try translateOutgoingFds(&message, fds: &fds) && inspectOutgoing(&message, fds: &fds)
                try objects.apply(sender: message.header.objectID, entry: message.target, opcode: message.header.opcode,
                                  spec: message.spec, args: message.args, isRequest: socketCarriesRequests)
            } catch let fault as MessageFault {
                stats.clientErrors += 1
                Log.warning("\(tag): refused \(message.name): \(fault.message)")
                fail(fault, localPeer: true)
                return
            } catch {
                stats.clientErrors += 1
                let fault = MessageFault.invalidMethod(message.header.objectID, "\(message.name): \(error)")
                Log.warning("\(tag): refused \(message.name): \(fault.message)")
                fail(fault, localPeer: true)
                return
            }
            input.consume(message.header.size)
            if forward && !closed {
                pendingBytes.append(contentsOf: message.bytes)
                if pendingResources.count + 28 > limits.maxResourcesPerData || pendingBytes.count >= 32768 { flushPending() }
            }
        }
        flushPending()
    }

    /// Adds a resource reference to the data frame being assembled.
    func attachResource(_ rid: UInt32) { pendingResources.append(rid) }

    /// Sends the Wayland bytes assembled so far as one data frame.
    func flushPending() {
        guard !pendingBytes.isEmpty || !pendingResources.isEmpty, !closed else { return }
        credit.didSend(pendingBytes.count)
        // Progress: a later stall may ask for credit again.
        if !pendingBytes.isEmpty { creditRequested = false }
        stats.protocolBytesSent += UInt64(pendingBytes.count)
        link.send(.data(channel: id, credit: credit.advertise(), resources: pendingResources, bytes: pendingBytes))
        pendingBytes.removeAll(keepingCapacity: true)
        pendingResources.removeAll(keepingCapacity: true)
    }

    private func flushSocket() {
        guard !closed else { return }
        do {
            _ = try output.flush(to: socket)
        } catch {
            closeChannel(reason: "write to \(socketCarriesRequests ? "client" : "compositor") failed: \(error)", notifyPeer: true)
            return
        }
        if let t = token { updateInterest(t) }
        let written = output.totalWritten
        if written > forwardedPosition {
            let n = min(Int(written - forwardedPosition), credit.buffered)
            forwardedPosition = written
            if n > 0 && credit.didForward(n) { link.send(.creditUpdate(channel: id, credit: credit.advertise())) }
        }
    }

    // MARK: Link side

    /// Handles a channel-scoped frame from the link.
    func receive(_ frame: LinkFrame) throws(LinkProtocolError) {
        guard !closed else { return }
        switch frame {
        case .data(_, let c, let refs, let bytes):
            credit.peerAdvertised(c)
            try credit.didReceive(bytes.count, channel: id)
            deliver(bytes, refs)
            resumeProducers()
        case .creditUpdate(_, let c):
            credit.peerAdvertised(c)
            resumeProducers()
        case .creditRequest:
            link.send(.creditUpdate(channel: id, credit: credit.advertise()))
        case .resourceOpen(_, let rid, let kind, let size):
            try openRemoteResource(rid, kind: kind, size: size)
        case .resourceExtend(_, let rid, let size):
            if case .region? = resources[rid] { throw .unexpected("resource \(rid) is the shared region, which cannot be extended") }
            guard case .memory(let m)? = resources[rid], m.kind == .shmPool else { throw .unknownResource(channel: id, resource: rid) }
            guard size >= m.size else { throw .unexpected("resource \(rid) shrinks from \(m.size) to \(size)") }
            guard size <= limits.maxResourceSize, owner.reserveResourceBytes(size - m.size) else {
                throw .resourceLimit("resource \(rid) cannot grow to \(size) bytes")
            }
            resourceBytes += size - m.size
            do { try m.extend(to: size) } catch { throw .resourceLimit("cannot grow resource \(rid): \(error)") }
        case .resourceUpdate(_, let rid, let ranges, let bytes):
            let m = try updatableResource(rid, ranges: ranges)
            stats.copiedBytes += m.apply(ranges, bytes)
        case .resourceClose(_, let rid):
            guard resources[rid] != nil else { throw .unknownResource(channel: id, resource: rid) }
            guard isPeerResource(rid) else { throw .unexpected("peer closed resource \(rid) it does not own") }
            dropResource(rid)
        case .pipeData(_, let rid, let bytes):
            if closedPipes.contains(rid) {
                // In flight when we closed the pipe: count it through the window and drop it.
                try credit.didReceive(bytes.count, channel: id)
                if credit.didForward(bytes.count) { link.send(.creditUpdate(channel: id, credit: credit.advertise())) }
                return
            }
            guard case .pipeSink(let sink)? = resources[rid] else { throw .unknownResource(channel: id, resource: rid) }
            try credit.didReceive(bytes.count, channel: id)
            sink.queue.append(contentsOf: bytes)
            drainSink(rid, sink)
        case .pipeClose(_, let rid):
            if closedPipes.remove(rid) != nil { return }
            switch resources[rid] {
            case .pipeSink(let sink)?:
                sink.closeWhenDrained = true
                drainSink(rid, sink)
            case .pipeSource?:
                // Before our end of file: the reader on the other side went
                // away (a paste target that closed its pipe or exited).
                Log.info("\(tag): pipe \(rid): the reader on the other side of the link closed it early; closing ours")
                dropResource(rid)
            default:
                throw .unknownResource(channel: id, resource: rid)
            }
        case .channelClose(_, let code, let reason):
            peerIsClosing = true
            peerClosed(code: code, reason: reason)
        default:
            throw .unexpected("frame not valid on a channel: \(frame)")
        }
    }

    /// Where a `resourceUpdate`'s data goes: straight into the memfd
    /// mapping, after the same checks as `receive(.resourceUpdate)`. Nil when
    /// the channel is closed (the frame is then dropped the usual way).
    func updateTarget(resource rid: UInt32, ranges: [UpdateRange]) throws(LinkProtocolError) -> UpdateTarget? {
        guard !closed else { return nil }
        let m = try updatableResource(rid, ranges: ranges)
        guard let mapping = m.writableMapping, let base = mapping.base, UInt64(mapping.size) >= m.size else { return nil }
        let stats = self.stats
        return UpdateTarget(base: base, owner: mapping) { t in stats.copiedBytes += UInt64(t.copied) }
    }

    /// The memory resource `rid` if the peer may write `ranges` into it: it
    /// exists, is memory (not the shared region), is not sealed, and every
    /// range lies inside it.
    private func updatableResource(_ rid: UInt32, ranges: [UpdateRange]) throws(LinkProtocolError) -> MemoryResource {
        if case .region? = resources[rid] { throw .unexpected("resource \(rid) is the shared region, which takes no updates over the link") }
        guard case .memory(let m)? = resources[rid] else { throw .unknownResource(channel: id, resource: rid) }
        guard !m.sealed else { throw .unexpected("update to sealed resource \(rid)") }
        for r in ranges {
            let (end, overflow) = r.offset.addingReportingOverflow(UInt64(r.length))
            guard !overflow, end <= m.size else {
                throw .rangeOutsideResource(resource: rid, offset: r.offset, length: r.length, size: m.size)
            }
        }
        return m
    }

    /// The peer closed the channel.
    func peerClosed(code: UInt32, reason: String) {
        closeChannel(reason: "peer closed the channel: \(reason)", notifyPeer: false)
        // Acknowledge, so the peer can forget the id.
        link.send(.channelClose(channel: id, code: 0, reason: "closed"))
    }

    private func deliver(_ bytes: [UInt8], _ refs: [UInt32]) {
        var offset = 0
        var refIndex = 0
        while offset < bytes.count && !closed {
            let header = bytes.withUnsafeBytes { MessageHeader.peek(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            if let header, swallowsIncoming(objectID: header.objectID), (try? header.validate()) != nil,
               offset + header.size <= bytes.count {
                offset += header.size
                continue
            }
            let parsed: ParsedMessage?
            do {
                parsed = try bytes.withUnsafeBytes { all in
                    Result { () throws(MessageFault) -> ParsedMessage? in
                        try MessageParser.next(UnsafeRawBufferPointer(rebasing: all[offset...]), objects: objects,
                                               isRequest: !socketCarriesRequests, availableFds: refs.count - refIndex)
                    }
                }.get()
                guard let message = parsed else {
                    throw MessageFault.implementation("data frame ends inside a message")
                }
                var fds: [OwnedFD] = []
                for (a, _) in zip(message.spec.args, message.args) where a.type == .fd {
                    try noteIncomingResource(refs[refIndex], message: message)
                    fds.append(try fdForIncoming(refs[refIndex], message: message))
                    refIndex += 1
                }
                guard try inspectIncoming(message) else {
                    offset += message.header.size
                    continue
                }
                do {
                    try objects.apply(sender: message.header.objectID, entry: message.target, opcode: message.header.opcode,
                                      spec: message.spec, args: message.args, isRequest: !socketCarriesRequests)
                } catch { throw MessageFault.invalidObject(message.header.objectID, "\(message.name): \(error)") }
                output.enqueue(message.bytes, fds: fds)
                offset += message.header.size
            } catch let fault as MessageFault {
                stats.clientErrors += 1
                Log.warning("\(tag): refused a message from the link: \(fault.message)")
                fail(fault, localPeer: false)
                return
            } catch {
                return
            }
        }
        if refIndex != refs.count && !closed {
            fail(.implementation("data frame carries \(refs.count) resources for \(refIndex) fds"), localPeer: false)
            return
        }
        flushSocket()
    }

    private func resumeProducers() {
        guard !closed else { return }
        if readPaused || input.count > 0 { pumpOutgoing() }
        for (rid, r) in resources {
            if case .pipeSource(let source) = r, source.paused { source.paused = false; pumpPipe(rid, source) }
        }
    }

    /// The link drained: producers paused for congestion may go on.
    func linkDrained() { resumeProducers() }

    // MARK: Resources

    private func isPeerResource(_ rid: UInt32) -> Bool {
        let hostOwned = rid & LinkProtocol.hostResourceBit != 0
        return link.role == .host ? !hostOwned : hostOwned
    }

    func allocateResourceID() -> UInt32 {
        while resources[nextResourceID] != nil || closedPipes.contains(nextResourceID) || nextResourceID & ~LinkProtocol.hostResourceBit == 0 {
            nextResourceID = (nextResourceID & LinkProtocol.hostResourceBit) | ((nextResourceID &+ 1) & ~LinkProtocol.hostResourceBit)
        }
        let rid = nextResourceID
        nextResourceID = (nextResourceID & LinkProtocol.hostResourceBit) | ((nextResourceID &+ 1) & ~LinkProtocol.hostResourceBit)
        return rid
    }

    /// Records a resource this side created, within the per-channel limit.
    func addLocalResource(_ rid: UInt32, _ r: ChannelResource) throws(MessageFault) {
        guard resources.count < limits.maxResourcesPerChannel else {
            throw MessageFault.implementation("too many shared resources on this connection")
        }
        resources[rid] = r
    }

    private func openRemoteResource(_ rid: UInt32, kind: ResourceKind, size: UInt64) throws(LinkProtocolError) {
        guard isPeerResource(rid) else { throw .unexpected("resource id \(rid) has the wrong owner bit") }
        guard resources[rid] == nil else { throw .resourceInUse(channel: id, resource: rid) }
        guard resources.count < limits.maxResourcesPerChannel else { throw .resourceLimit("more than \(limits.maxResourcesPerChannel) resources on channel \(id)") }
        switch kind {
        case .shmPool, .readOnlyFile:
            guard size <= limits.maxResourceSize else { throw .resourceLimit("resource \(rid) of \(size) bytes exceeds \(limits.maxResourceSize)") }
            guard owner.reserveResourceBytes(size) else { throw .resourceLimit("link's shared memory total exceeded by resource \(rid)") }
            do {
                resources[rid] = .memory(try MemoryResource(kind: kind, size: size, name: "porthole-\(kind == .shmPool ? "pool" : "file")"))
                resourceBytes += size
            } catch {
                owner.releaseResourceBytes(size)
                throw .resourceLimit("cannot create resource \(rid): \(error)")
            }
        case .region:
            guard let shared = owner.hostRegion, shared.active else {
                throw .regionMismatch("resource \(rid) names the shared region, but none was agreed on this link")
            }
            guard size == UInt64(shared.region.size) else {
                throw .regionMismatch("resource \(rid) names a \(size)-byte region; the shared region is \(shared.region.size) bytes")
            }
            resources[rid] = .region(size: size)
        case .pipe:
            guard size == 0 else { throw .malformed(.resourceOpen, "pipe with a size") }
            let ends: (read: OwnedFD, write: OwnedFD)
            do { ends = try Pipe.make() } catch { throw .resourceLimit("cannot create a pipe: \(error)") }
            let source = PipeSource(readEnd: ends.read)
            source.writeEnd = ends.write
            try? source.readEnd.setNonBlocking()
            resources[rid] = .pipeSource(source)
            source.token = try? loop.register(source.readEnd.rawValue, events: .readable) { [unowned self, weak source] _ in
                if let source { self.pumpPipe(rid, source) }
            }
        }
    }

    /// Turns a resource reference from the link into the fd for the local peer.
    private func fdForIncoming(_ rid: UInt32, message: ParsedMessage) throws(MessageFault) -> OwnedFD {
        guard let translation = translations.translation(interface: message.target.interface.name, message: message.spec.name,
                                                         isRequest: !socketCarriesRequests) else {
            throw MessageFault.implementation("\(message.name) carries an fd this proxy does not translate")
        }
        switch (translation, resources[rid]) {
        case (.shmPool, .memory(let m)?) where m.kind == .shmPool,
             (.readOnlyFile, .memory(let m)?) where m.kind == .readOnlyFile:
            do {
                let fd = try m.fdForMessage()
                // A read-only file is consumed by the one message that carries it.
                if m.kind == .readOnlyFile { dropResource(rid) }
                return fd
            } catch { throw MessageFault.implementation("cannot pass resource \(rid): \(error)") }
        case (.shmPool, .region?):
            guard let shared = owner.hostRegion else { throw MessageFault.implementation("no shared region for resource \(rid)") }
            do { return try shared.region.fd.duplicate() } catch { throw MessageFault.implementation("cannot pass the shared region: \(error)") }
        case (.pipe, .pipeSource(let source)?):
            guard let w = source.writeEnd else { throw MessageFault.implementation("pipe resource \(rid) used twice") }
            source.writeEnd = nil
            return w
        default:
            throw MessageFault.implementation("\(message.name) refers to resource \(rid), which is missing or of the wrong kind")
        }
    }

    /// Replaces read-only file and pipe fds with resources (shm pools go to the subclass).
    private func translateOutgoingFds(_ message: inout ParsedMessage, fds: inout [OwnedFD]) throws(MessageFault) -> Bool {
        guard !fds.isEmpty else { return true }
        guard let translation = translations.translation(interface: message.target.interface.name, message: message.spec.name,
                                                         isRequest: socketCarriesRequests) else {
            throw MessageFault.implementation("\(message.name) carries an fd this proxy does not translate")
        }
        let fd = fds.removeFirst()
        switch translation {
        case .shmPool:
            attachResource(try makeShmResource(fd, message: message))
        case .readOnlyFile:
            attachResource(try sendReadOnlyFile(fd, message: message))
        case .pipe:
            let rid = allocateResourceID()
            try? fd.setNonBlocking()
            let sink = PipeSink(writeEnd: fd)
            try addLocalResource(rid, .pipeSink(sink))
            link.send(.resourceOpen(channel: id, resource: rid, kind: .pipe, size: 0))
            attachResource(rid)
        }
        return true
    }

    /// Fds a peer may send ahead of the messages that use them.
    static let maxQueuedFds = 256

    /// Largest read-only file carried (keymaps are tens of KiB).
    static let maxReadOnlyFile = 16 << 20

    private func sendReadOnlyFile(_ fd: OwnedFD, message: ParsedMessage) throws(MessageFault) -> UInt32 {
        let size: Int
        do { size = try fd.fileSize() } catch { throw MessageFault.implementation("\(message.name): cannot stat the fd: \(error)") }
        guard size > 0 && size <= Self.maxReadOnlyFile else {
            throw MessageFault.implementation("\(message.name): file of \(size) bytes is outside 1...\(Self.maxReadOnlyFile)")
        }
        var content = [UInt8](repeating: 0, count: size)
        let n = content.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress, size, 0) }
        guard n == size else { throw MessageFault.implementation("\(message.name): short read of the file (\(n) of \(size))") }
        let rid = allocateResourceID()
        link.send(.resourceOpen(channel: id, resource: rid, kind: .readOnlyFile, size: UInt64(size)))
        var builder = UpdateBuilder(channel: id, resource: rid, maxPayload: limits.maxPayload)
        content.withUnsafeBytes { builder.add(offset: 0, $0.baseAddress!, length: size) }
        builder.flush()
        for f in builder.frames { link.send(f) }
        // The peer drops the file once the message carrying it is delivered.
        return rid
    }

    func dropResource(_ rid: UInt32) {
        guard let r = resources.removeValue(forKey: rid) else { return }
        switch r {
        case .memory(let m):
            owner.releaseResourceBytes(m.size)
            resourceBytes -= m.size
        case .mirror, .regionPool, .region: break
        case .pipeSource(let s):
            if let t = s.token { loop.unregister(t) }
            s.readEnd.close()
            s.writeEnd?.close()
        case .pipeSink(let s):
            if let t = s.token { loop.unregister(t) }
            s.writeEnd.close()
        }
    }

    // MARK: Pipes

    private func pumpPipe(_ rid: UInt32, _ source: PipeSource) {
        guard !closed, case .pipeSource(let current)? = resources[rid], current === source else { return }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let room = min(credit.peerFree, limits.channelBuffer == 0 ? 0 : Int(limits.channelBuffer / 4), buffer.count)
            if room <= 0 || link.isCongested {
                source.paused = true
                if let t = source.token { loop.modify(t, events: []) }
                if !creditRequested && room <= 0 { creditRequested = true; link.send(.creditRequest(channel: id)) }
                return
            }
            let n = buffer.withUnsafeMutableBytes { read(source.readEnd.rawValue, $0.baseAddress, room) }
            if n > 0 {
                credit.didSend(n)
                creditRequested = false
                stats.pipeBytesSent += UInt64(n)
                link.send(.pipeData(channel: id, resource: rid, bytes: Array(buffer[0..<n])))
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                if let t = source.token { loop.modify(t, events: .readable) }
                return
            }
            if n < 0 {
                let failure = String(cString: strerror(errno))
                Log.warning("\(tag): pipe \(rid): read failed (\(failure)); ending it as at end of file")
            } else {
                Log.debug("\(tag): pipe \(rid): end of file from the local writer")
            }
            link.send(.pipeClose(channel: id, resource: rid))
            dropResource(rid)
            rememberClosedPipe(rid)
            return
        }
    }

    /// Remembers a pipe we closed (bounded), so late frames for it are not errors.
    private func rememberClosedPipe(_ rid: UInt32) {
        closedPipes.insert(rid)
        closedPipeOrder.append(rid)
        if closedPipeOrder.count > 256 { closedPipes.remove(closedPipeOrder.removeFirst()) }
    }

    private func drainSink(_ rid: UInt32, _ sink: PipeSink) {
        while !sink.queue.isEmpty {
            let n = sink.queue.withUnsafeBytes { write(sink.writeEnd.rawValue, $0.baseAddress, $0.count) }
            if n > 0 {
                sink.queue.removeFirst(n)
                if credit.didForward(n) { link.send(.creditUpdate(channel: id, credit: credit.advertise())) }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                if sink.token == nil {
                    sink.token = try? loop.register(sink.writeEnd.rawValue, events: .writable) { [unowned self, weak sink] _ in
                        if let sink { self.drainSink(rid, sink) }
                    }
                }
                return
            }
            // The reader went away: drop what is left and tell the peer.
            let failure = String(cString: strerror(errno))
            let dropped = sink.queue.count
            Log.info("\(tag): pipe \(rid): the local reader closed it early (\(failure)); \(dropped) bytes dropped")
            sink.queue.removeAll()
            if dropped > 0 && credit.didForward(dropped) { link.send(.creditUpdate(channel: id, credit: credit.advertise())) }
            link.send(.pipeClose(channel: id, resource: rid))
            dropResource(rid)
            rememberClosedPipe(rid)
            return
        }
        if let t = sink.token { loop.unregister(t); sink.token = nil }
        if sink.closeWhenDrained { dropResource(rid) }
    }
}
