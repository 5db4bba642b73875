import Link
import PortholeSystem
import Wayland

/// One Wayland connection joined to one link channel: the guest's socket to
/// a client, or the host's socket to the compositor. It reads whole
/// messages, tracks objects, turns fds into resources and back, and hands
/// each message to its side's handler; the channel does everything the link
/// protocol asks.
final class WaylandConnection: LinkChannelDelegate {
    let side: ProxySide
    let channel: LinkChannel
    let loop: EventLoop
    let stats: ProxyStats
    let objects: ObjectMap
    let handler: ConnectionHandler
    let translations = FdTranslationTable.standard
    /// Prints each forwarded message, when tracing.
    let tracer: MessageTracer?
    /// Called once, when the connection has closed.
    var onClose: ((WaylandConnection) -> Void)?
    /// Host: the client ids the guest may hold (a channel's, drawing on its
    /// guest's); nil on the guest.
    let objectBudget: Budget?
    // `@exclusivity(unchecked)`, as `WriteQueue.bytes`: read and set around
    // every message, never held across a call.
    /// Client ids counted in `objectBudget`.
    @exclusivity(unchecked) private var countedIDs: UInt64 = 0

    private let socket: OwnedFD
    private var token: EventLoop.Token?
    private let input = ReadBuffer()
    private let output = WriteQueue()
    private(set) var closed = false
    private var pumping = false
    /// A large sync runs in slices (`continueSlicing`): nothing more is
    /// read or sent on this connection until it is done.
    private var slicing = false
    /// A slice waits for the link to take what is queued: the number of
    /// that wait (a look scheduled for an earlier one is stale).
    private var linkWait: UInt64?
    private var linkWaits: UInt64 = 0
    private var readPaused = false
    /// Bytes written to the socket and already reported to the channel.
    private var deliveredPosition: UInt64 = 0

    /// Fds a peer may send ahead of the messages that use them.
    static let maxQueuedFds = 256
    /// Largest read-only file carried (keymaps are tens of KiB).
    static let maxReadOnlyFile = 16 << 20

    init(side: ProxySide, socket: OwnedFD, channel: LinkChannel, loop: EventLoop, stats: ProxyStats, tables: ProtocolTables,
         handler: ConnectionHandler, tracer: MessageTracer? = nil, objectBudget: Budget? = nil) throws(SystemError) {
        self.side = side
        self.socket = socket
        self.channel = channel
        self.loop = loop
        self.stats = stats
        self.handler = handler
        self.tracer = tracer
        self.objectBudget = objectBudget
        objects = ObjectMap(tables: tables)
        token = try loop.register(socket.rawValue, events: .readable) { [unowned self] events in
            self.socketEvent(events)
        }
        channel.delegate = self
        stats.clients += 1
    }

    var name: String { channel.name }
    var limits: LinkLimits { channel.limits }

    // MARK: Closing

    /// Reports a fault of the local peer or of the link peer and closes.
    func fail(_ fault: MessageFault, localPeer: Bool) {
        guard !closed else { return }
        stats.clientErrors += 1
        Log.warning("\(name): \(localPeer ? "the \(side.localPeer)" : "the link peer") sent a message the proxy refuses: \(fault.message)")
        switch side {
        case .guest:
            // The client learns why; the host learns the channel is gone.
            sendToSocket(fault.errorEvent)
            channel.close(reason: fault.description)
        case .host where !localPeer:
            // The guest broke the rules: its client gets the Wayland error
            // through the link, then the channel closes.
            channel.sendNow(fault.errorEvent)
            channel.close(code: .refusedMessage, reason: fault.description)
        case .host:
            channel.close(code: .compositorFault, reason: "compositor sent a message the proxy cannot carry: \(fault.description)")
        }
    }

    /// Closes the channel (and so this connection) for `reason`.
    func close(reason: String) { channel.close(reason: reason) }

    func channelDidClose(_ channel: LinkChannel, cause: ChannelCloseCause) {
        guard !closed else { return }
        if side == .guest {
            // Make sure the client is not left waiting.
            switch cause {
            case .peer(let code, let reason) where code != .normal:
                sendToSocket(MessageFault.implementation("host proxy closed this connection: \(reason)").errorEvent)
            case .linkClosed(let reason):
                sendToSocket(MessageFault.implementation("the link to the host closed: \(reason)").errorEvent)
            default:
                break
            }
        }
        closed = true
        _ = try? output.flush(to: socket)
        if let t = token { loop.unregister(t) }
        token = nil
        output.discard()
        input.fds.removeAll()
        socket.close()
        handler.closed(on: self)
        objectBudget?.give(countedIDs)
        countedIDs = 0
        stats.clients -= 1
        onClose?(self)
    }

    /// Sends Wayland bytes of our own (an error, or an event only this proxy
    /// produces) to the local socket.
    func sendToSocket(_ bytes: [UInt8], fds: [OwnedFD] = []) {
        guard !closed else { return }
        output.enqueue(bytes, fds: fds)
        flushSocket()
    }

    // MARK: Socket to link

    private func socketEvent(_ events: EventLoop.Events) {
        if events.contains(.writable) { flushSocket() }
        guard !closed else { return }
        // .hangup is two epoll bits (HUP, RDHUP); either one means the peer is going.
        let hungUp = !events.isDisjoint(with: .hangup)
        guard events.contains(.readable) || hungUp || events.contains(.error) else { return }
        var alive = true
        if !readPaused || hungUp {
            do { alive = try input.fill(from: socket, limit: 65536) } catch {
                close(reason: "socket error: \(error)")
                return
            }
        }
        pumpOutgoing()
        if !alive && !closed { close(reason: "\(side.localPeer) disconnected") }
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
        // Sending can call back into the connection (credit, drain, close);
        // the loop below picks up whatever a nested call would have done.
        guard !pumping, !closed, !slicing else { return }
        pumping = true
        defer { pumping = false }
        guard channel.isEstablished else { setReadPaused(true); return }
        guard input.fds.count <= Self.maxQueuedFds else {
            fail(.implementation("more than \(Self.maxQueuedFds) file descriptors sent ahead of their messages"), localPeer: true)
            return
        }
        while !closed {
            if channel.isCongested { setReadPaused(true); break }
            let parsed: ParsedMessage?
            do {
                parsed = try input.withUnconsumed { bytes in
                    Result { () throws(MessageFault) -> ParsedMessage? in
                        try MessageParser.next(bytes, objects: objects, isRequest: side.socketCarriesRequests, availableFds: input.fds.count)
                    }
                }.get()
            } catch {
                fail(error, localPeer: true)
                return
            }
            guard var message = parsed else { setReadPaused(false); break }
            guard channel.reserve(handler.linkBytes(for: message)) else { setReadPaused(true); break }
            let fds = input.takeFds(message.spec.fdCount) ?? []
            var resources: [UInt32] = []
            do {
                resources = try outgoingResources(for: message, fds: fds)
                let verdict = try handler.outgoing(&message, resources: resources, on: self)
                try track(message, isRequest: side.socketCarriesRequests)
                input.consume(message.header.size)
                guard !closed else { return }
                if verdict == .forward {
                    tracer?.trace(message, from: side.localPeer, channel: name)
                    channel.append(message.bytes, resources: resources)
                } else {
                    for rid in resources { channel.closeResource(rid) }
                }
                if handler.hasSlicedWork {
                    // The data frame (with this commit) waits for the sync's last slice.
                    startSlicing()
                    return
                }
            } catch {
                fail(error, localPeer: true)
                return
            }
        }
        channel.flush()
    }

    /// Runs the handler's pending work a slice per loop turn, other
    /// connections' and links' work in between; then goes on pumping,
    /// which sends the held data frame. A flush forced meanwhile (an error
    /// to send, the channel closing) runs the rest at once, before the frame.
    private func startSlicing() {
        slicing = true
        setReadPaused(true)
        loop.nextTurn { [weak self] in self?.continueSlicing() }
    }

    private func continueSlicing() {
        guard slicing, !closed else { return }
        let progress: SliceProgress
        do { progress = try handler.advancePending(on: self) } catch {
            slicing = false
            fail(error, localPeer: true)
            return
        }
        switch progress {
        case .done:
            slicing = false
            pumpOutgoing()
        case .more:
            loop.nextTurn { [weak self] in self?.continueSlicing() }
        case .waitForLink:
            // Look again soon, or when the link says it has room (`channelCanSend`).
            linkWaits += 1
            let wait = linkWaits
            linkWait = wait
            loop.after(Self.linkPollSeconds) { [weak self] in self?.endLinkWait(wait) }
        case .waitForWorker:
            break
        }
    }

    /// The worker finished a copy this connection waits for. Called from
    /// the loop (the worker's completion, or a flush waiting for it): the
    /// slicing goes on at the next turn, not inside the caller.
    func resumeSlicing() {
        guard slicing else { return }
        loop.nextTurn { [weak self] in self?.continueSlicing() }
    }

    /// How soon a slice waiting for the link looks again.
    static let linkPollSeconds = 0.0002

    /// Records a message's effect on the objects (new ids, destructors),
    /// and holds the guest to its quota of client ids.
    private func track(_ m: ParsedMessage, isRequest: Bool) throws(MessageFault) {
        do {
            try objects.apply(sender: m.sender, entry: m.target, opcode: m.header.opcode, spec: m.spec, args: m.args, isRequest: isRequest)
        } catch {
            throw .invalidMethod(m.sender, "\(m.name): \(error)")
        }
        try countObjects(sender: m.sender)
    }

    /// Brings the budget up to date with the map. A guest request that
    /// takes it past its limit fails the channel; ids the compositor freed
    /// go back.
    private func countObjects(sender: UInt32) throws(MessageFault) {
        guard let budget = objectBudget else { return }
        let now = UInt64(objects.clientIDs)
        if now < countedIDs {
            budget.give(countedIDs - now)
        } else if now > countedIDs, let level = budget.take(now - countedIDs) {
            throw .display(.noMemory, object: sender, "too many objects: \(level.limit) Wayland objects \(level === budget ? "on this channel" : "of this guest")")
        }
        countedIDs = now
    }

    /// Replaces the fds of an outgoing message with resources.
    private func outgoingResources(for message: ParsedMessage, fds: [OwnedFD]) throws(MessageFault) -> [UInt32] {
        guard let fd = fds.first else { return [] }
        if fds.count == 1 && handler.keepsFd(fd, of: message) { return [] }
        guard fds.count == 1, let translation = translations.translation(interface: message.target.interface.name, message: message.spec.name,
                                                                         isRequest: side.socketCarriesRequests) else {
            throw .implementation("\(message.name) carries an fd this proxy does not translate")
        }
        switch translation {
        case .shmPool:
            return [try handler.poolResource(for: fd, message: message, on: self)]
        case .readOnlyFile:
            let contents = try readOnlyFile(fd, message: message)
            do { return [try channel.sendFile(contents)] } catch { throw .implementation("\(message.name): \(error)") }
        case .pipe:
            do { return [try channel.openPipe(writeEnd: fd)] } catch { throw .implementation("\(message.name): \(error)") }
        }
    }

    private func readOnlyFile(_ fd: OwnedFD, message: ParsedMessage) throws(MessageFault) -> [UInt8] {
        let size: Int
        do { size = try fd.fileSize() } catch { throw .implementation("\(message.name): cannot stat the fd: \(error)") }
        guard size > 0 && size <= Self.maxReadOnlyFile else {
            throw .implementation("\(message.name): file of \(size) bytes is outside 1...\(Self.maxReadOnlyFile)")
        }
        do { return try fd.readContents(count: size) } catch { throw .implementation("\(message.name): \(error)") }
    }

    private func flushSocket() {
        guard !closed else { return }
        do {
            _ = try output.flush(to: socket)
        } catch {
            // A peer that refused a message says why before it closes (a
            // wl_display.error): pass on what it sent before going.
            if (try? input.fill(from: socket, limit: 65536)) != nil { pumpOutgoing() }
            close(reason: "write to \(side.localPeer) failed: \(error)")
            return
        }
        if let t = token { updateInterest(t) }
        let written = output.totalWritten
        if written > deliveredPosition {
            let n = Int(written - deliveredPosition)
            deliveredPosition = written
            channel.didDeliver(n)
        }
    }

    // MARK: LinkChannelDelegate

    func channelDidEstablish(_ channel: LinkChannel) { pumpOutgoing() }

    func channelCanSend(_ channel: LinkChannel) {
        if let wait = linkWait { endLinkWait(wait) }
        if readPaused || input.count > 0 { pumpOutgoing() }
    }

    /// The slicing goes on after a wait for the link, once per wait.
    private func endLinkWait(_ wait: UInt64) {
        guard linkWait == wait else { return }
        linkWait = nil
        continueSlicing()
    }

    func channelWillFlush(_ channel: LinkChannel) {
        do { try handler.flushPending(on: self) } catch { fail(error, localPeer: true) }
    }

    /// Link to socket: checks and delivers the messages of one data frame.
    func channel(_ channel: LinkChannel, received bytes: [UInt8], resources refs: [UInt32]) {
        var offset = 0
        var refIndex = 0
        do throws(MessageFault) {
            while offset < bytes.count && !closed {
                let header = bytes.withUnsafeBytes { MessageHeader.peek(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
                if let header, handler.swallowsIncoming(objectID: header.objectID), (try? header.validate()) != nil,
                   offset + header.size <= bytes.count {
                    offset += header.size
                    continue
                }
                let parsed = try bytes.withUnsafeBytes { all in
                    Result { () throws(MessageFault) -> ParsedMessage? in
                        try MessageParser.next(UnsafeRawBufferPointer(rebasing: all[offset...]), objects: objects,
                                               isRequest: !side.socketCarriesRequests, availableFds: refs.count - refIndex)
                    }
                }.get()
                guard var message = parsed else { throw .implementation("data frame ends inside a message") }
                let mine = Array(refs[refIndex..<(refIndex + message.spec.fdCount)])
                refIndex += mine.count
                let verdict = try handler.incoming(&message, resources: mine, on: self)
                offset += message.header.size
                guard !closed else { return }
                guard verdict == .forward else { continue }
                let fds = try incomingFds(mine, message: message)
                try track(message, isRequest: !side.socketCarriesRequests)
                tracer?.trace(message, from: "link", channel: name)
                output.enqueue(message.bytes, fds: fds)
            }
            if refIndex != refs.count && !closed {
                throw .implementation("data frame carries \(refs.count) resources for \(refIndex) fds")
            }
        } catch {
            fail(error, localPeer: false)
            return
        }
        flushSocket()
    }

    /// The fds for the resources an incoming message refers to.
    private func incomingFds(_ rids: [UInt32], message: ParsedMessage) throws(MessageFault) -> [OwnedFD] {
        guard !rids.isEmpty else { return [] }
        guard let translation = translations.translation(interface: message.target.interface.name, message: message.spec.name,
                                                         isRequest: !side.socketCarriesRequests) else {
            throw .implementation("\(message.name) carries an fd this proxy does not translate")
        }
        var fds: [OwnedFD] = []
        for rid in rids {
            do { fds.append(try channel.fd(forResource: rid, as: translation.resourceKind)) } catch {
                throw .implementation("\(message.name) refers to resource \(rid): \(error)")
            }
        }
        return fds
    }
}
