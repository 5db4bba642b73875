import PortholeSystem
import Wayland

/// The server end of one Wayland connection of the buffer service: a
/// producer's (the host proxy's end of a socket pair) or a consumer's. It
/// reads whole requests and checks each against the connection's objects
/// (header, object, opcode, version, arguments, fds, new ids) before anyone
/// looks at it, answers wl_display.sync, get_registry and the bind of its
/// one global itself, and hands every other request to its handler. Events
/// go out with their fds; a fault ends the connection with a wl_display.error.
/// Nothing the peer sends is trusted.
final class ServiceConnection {
    /// For logs: who is on the other end.
    let name: String
    let objects: ObjectMap
    /// The one global a registry shows.
    let global: Interface
    private(set) var closed = false
    /// Called once, after the handler heard `closed`.
    var onClose: ((ServiceConnection) -> Void)?
    weak var handler: ServiceHandler?

    private let socket: OwnedFD
    private let loop: EventLoop
    private var token: EventLoop.Token?
    private let input = ReadBuffer()
    private let output = WriteQueue()
    /// Unread event bytes tolerated; past them the peer counts as too slow.
    private let maxQueuedBytes: Int
    private let maxQueuedFds: Int
    /// What the peer is told when it leaves too many events unread.
    private let overflowFault: (Int) -> MessageFault
    private var nextServerID = Wire.serverIDStart
    private var flushScheduled = false

    /// The registry shows `global` as name 1.
    static let globalName: UInt32 = 1

    init(name: String, socket: OwnedFD, loop: EventLoop, tables: ProtocolTables, global: String, maxQueuedBytes: Int, maxQueuedFds: Int,
         overflowFault: @escaping (Int) -> MessageFault) throws(SystemError) {
        guard let interface = tables[global] else { throw SystemError("the protocol tables have no \(global)", code: 22) }
        self.name = name
        self.socket = socket
        self.loop = loop
        self.global = interface
        self.maxQueuedBytes = maxQueuedBytes
        self.maxQueuedFds = maxQueuedFds
        self.overflowFault = overflowFault
        objects = ObjectMap(tables: tables)
        try socket.setNonBlocking()
        token = try loop.register(socket.rawValue, events: .readable) { [unowned self] events in self.socketEvent(events) }
    }

    // MARK: Sending

    /// A fresh id for an object this side creates (never reused on this connection).
    func newServerID() -> UInt32 {
        defer { nextServerID &+= 1 }
        return nextServerID
    }

    /// Queues `event` on `object`, recording the objects it creates or ends.
    /// The write happens once the current loop iteration is done, so the
    /// events of one step leave in one go.
    func send<T: TypedMessage>(_ event: T, to object: UInt32, fds: [OwnedFD] = []) {
        guard !closed, let entry = objects[object] else { return }
        let args = event.args
        if Int(T.opcode) < entry.interface.events.count {
            try? objects.apply(sender: object, entry: entry, opcode: T.opcode, spec: entry.interface.events[Int(T.opcode)], args: args, isRequest: false)
        }
        output.enqueue(event.encode(objectID: object), fds: fds)
        guard output.queuedBytes <= maxQueuedBytes else {
            fail(overflowFault(output.queuedBytes))
            return
        }
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.defer_ { [weak self] in
            guard let self else { return }
            self.flushScheduled = false
            self.flush()
        }
    }

    private func flush() {
        guard !closed else { return }
        do {
            let done = try output.flush(to: socket)
            if let t = token { loop.modify(t, events: done ? .readable : [.readable, .writable]) }
        } catch {
            close(reason: "write failed: \(error)")
        }
    }

    // MARK: Closing

    /// Tells the peer why (wl_display.error) and closes.
    func fail(_ fault: MessageFault) {
        guard !closed else { return }
        Log.warning("buffer service: \(name): \(fault.message)")
        output.enqueue(fault.errorEvent)
        _ = try? output.flush(to: socket)
        close(reason: fault.message)
    }

    /// Closes the socket and tells the handler.
    func close(reason: String) {
        guard !closed else { return }
        closed = true
        Log.debug("buffer service: \(name): closed: \(reason)")
        if let t = token { loop.unregister(t) }
        token = nil
        output.discard()
        input.fds.removeAll()
        socket.close()
        handler?.closed(on: self)
        onClose?(self)
    }

    // MARK: Reading

    private func socketEvent(_ events: EventLoop.Events) {
        if events.contains(.writable) { flush() }
        guard !closed else { return }
        let alive: Bool
        do { alive = try input.fill(from: socket, limit: 65536) } catch {
            close(reason: "socket error: \(error)")
            return
        }
        while !closed {
            do throws(MessageFault) {
                guard let request = try nextRequest() else { break }
                try dispatch(request)
            } catch {
                fail(error)
                return
            }
        }
        // What is left waits for the rest of its request: fds beyond a few
        // are sent ahead of any request that could use them.
        guard closed || input.fds.count <= maxQueuedFds else {
            fail(.implementation("more than \(maxQueuedFds) file descriptors sent ahead of their requests"))
            return
        }
        if !alive { close(reason: "the peer disconnected") }
    }

    /// The next whole request, checked (`MessageParser`, as the proxies
    /// check theirs), with its fds; nil until it has arrived.
    private func nextRequest() throws(MessageFault) -> ServiceRequest? {
        let fdsHere = input.fds.count
        let parsed = try input.withUnconsumed { bytes in
            Result { () throws(MessageFault) -> ParsedMessage? in
                try MessageParser.next(bytes, objects: objects, isRequest: true, availableFds: fdsHere)
            }
        }.get()
        guard let m = parsed else { return nil }
        // A unix socket delivers fds with the first byte of their message;
        // the parser checked that enough have arrived.
        let fds = input.takeFds(m.spec.fdCount) ?? []
        input.consume(m.header.size)
        do { try objects.apply(sender: m.sender, entry: m.target, opcode: m.header.opcode, spec: m.spec, args: m.args, isRequest: true) } catch {
            throw .invalidMethod(m.sender, "\(m.name): \(error)")
        }
        return ServiceRequest(objectID: m.sender, interface: m.target.interface, spec: m.spec, args: m.args, fds: fds)
    }

    private func dispatch(_ r: ServiceRequest) throws(MessageFault) {
        switch r.spec.kind {
        case .wlDisplaySync?:
            let callback = try r.typed(WlDisplaySync.self).callback
            send(WlCallbackDone(callbackData: 0), to: callback)
            send(WlDisplayDeleteId(id: callback), to: Wire.displayID)
        case .wlDisplayGetRegistry?:
            let registry = try r.typed(WlDisplayGetRegistry.self).registry
            send(WlRegistryGlobal(name: Self.globalName, interface: Array(global.name.utf8), version: global.version), to: registry)
        case .wlRegistryBind?:
            try bind(try r.typed(WlRegistryBind.self), registry: r.objectID)
        default:
            guard let handler else { throw .implementation("the buffer service is shutting down") }
            try handler.request(r, on: self)
            // The client may reuse the id of an object it destroyed once told so.
            if r.spec.isDestructor && r.objectID < Wire.serverIDStart && !closed {
                send(WlDisplayDeleteId(id: r.objectID), to: Wire.displayID)
            }
        }
    }

    private func bind(_ b: WlRegistryBind, registry: UInt32) throws(MessageFault) {
        guard b.name == Self.globalName else { throw .invalidObject("invalid global \(b.name)") }
        guard b.id.interface == Array(global.name.utf8) else {
            throw .invalidMethod(registry, "global \(b.name) is \(global.name), not \(LogText.escaped(b.id.interface))")
        }
        guard b.id.version >= 1 && b.id.version <= global.version else {
            throw .invalidMethod(registry, "\(global.name) version \(b.id.version) is not offered (1 to \(global.version))")
        }
        guard let handler else { throw .implementation("the buffer service is shutting down") }
        try handler.bound(b.id.id, on: self)
    }
}
