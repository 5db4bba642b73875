import Glibc
import PortholeSystem
import Wayland

/// One event delivered to a client, already decoded and checked against the
/// object map.
struct ClientEvent {
    /// The object the event is for.
    var objectID: UInt32
    /// That object's interface.
    var interface: Interface
    /// The event's signature.
    var spec: MessageSpec
    /// The decoded arguments (fd arguments are `.fd` placeholders).
    var args: [WireArg]
    /// The fds that travelled with the event, in argument order.
    var fds: [OwnedFD]
}

/// The client end of a Wayland connection, built on the Wayland layer: it
/// allocates object ids (reusing them after delete_id, as libwayland does),
/// tracks objects in an `ObjectMap`, sends requests by name, and dispatches
/// events with its own small poll loop. wl_display events are handled here;
/// everything else goes to `eventHandler`. Not thread-safe.
final class ClientSession {
    private let connection: WireConnection
    /// Every object this client knows about.
    let objects = ObjectMap(tables: .builtin)
    /// Called for each event on a live object other than wl_display.
    var eventHandler: ((ClientEvent) throws(HarnessError) -> Void)?
    /// Set once the connection is unusable; every later call throws it.
    private(set) var failure: HarnessError?
    private var nextID: UInt32 = 2
    private var freeIDs: [UInt32] = []
    private var callbackDone: [UInt32: Bool] = [:]
    private var peerClosed = false

    /// Connects to the Wayland socket at the absolute path `socketPath`.
    init(socketPath: String) throws(HarnessError) {
        guard socketPath.hasPrefix("/") else { throw .invalidArgument("socket path '\(socketPath)' is not absolute") }
        let fd = try system("connect to \(socketPath)") { () throws(SystemError) in try Socket.connect(.unix(path: socketPath)) }
        connection = WireConnection(socket: fd)
    }

    // MARK: Requests

    /// A fresh client object id: the most recently freed one, else the next unused.
    func newID() -> UInt32 {
        if let id = freeIDs.popLast() { return id }
        defer { nextID += 1 }
        return nextID
    }

    /// The version of a tracked object (0 if unknown).
    func version(of id: UInt32) -> UInt32 { objects[id]?.version ?? 0 }

    /// Queues the request named `request` on `objectID`, recording the
    /// objects it creates or destroys. Fds are given up to the connection.
    func send(_ objectID: UInt32, _ request: String, _ args: [WireArg] = [], fds: [OwnedFD] = []) throws(HarnessError) {
        if let failure { throw failure }
        guard let entry = objects[objectID], entry.alive else {
            throw .invalidArgument("\(request) on object \(objectID), which is not alive")
        }
        guard let opcode = entry.interface.requestOpcode(request) else {
            throw .invalidArgument("\(entry.interface.name) has no request \(request)")
        }
        let spec = entry.interface.requests[Int(opcode)]
        guard spec.since <= entry.version else {
            throw .invalidArgument("\(entry.interface.name).\(request) needs version \(spec.since), object has \(entry.version)")
        }
        do {
            try objects.apply(sender: objectID, entry: entry, opcode: opcode, spec: spec, args: args, isRequest: true)
        } catch {
            throw .invalidArgument("\(entry.interface.name).\(request): \(error)")
        }
        connection.enqueue(objectID: objectID, opcode: opcode, args, fds: fds)
    }

    /// Queues a message without checking or tracking it (tests of error paths).
    func sendUnchecked(objectID: UInt32, opcode: UInt16, _ args: [WireArg] = []) {
        connection.enqueue(objectID: objectID, opcode: opcode, args)
    }

    /// Sends a request whose only new_id is a wl_callback (wl_display.sync,
    /// wl_surface.frame) and returns the callback's id.
    func requestCallback(on objectID: UInt32, _ request: String) throws(HarnessError) -> UInt32 {
        let id = newID()
        try send(objectID, request, [.newID(id)])
        callbackDone[id] = false
        return id
    }

    /// Whether wl_callback.done has arrived for the callback created last with `id`.
    func isDone(callback id: UInt32) -> Bool { callbackDone[id] == true }

    // MARK: Dispatch

    /// Sends queued requests and handles events until `condition` holds,
    /// waiting at most `timeout`. `what` names the wait in a timeout error.
    func dispatch(timeout: Duration, waitingFor what: String, until condition: () -> Bool) throws(HarnessError) {
        if let failure { throw failure }
        let deadline = Deadline(after: timeout)
        do throws(HarnessError) {
            while true {
                try processBuffered()
                try flush(deadline: deadline, what: what)
                if condition() { return }
                if peerClosed { throw HarnessError.disconnected("the server closed the connection while waiting for \(what)") }
                let ms = deadline.remainingMilliseconds
                if ms == 0 { throw HarnessError.timeout(what) }
                if try waitReadable(milliseconds: ms) { try readSocket() }
            }
        } catch {
            if case .timeout = error {} else { failure = error }
            throw error
        }
    }

    /// Handles whatever has already arrived and sends queued requests, without blocking.
    func dispatchPending(timeout: Duration) throws(HarnessError) {
        if let failure { throw failure }
        do throws(HarnessError) {
            if try waitReadable(milliseconds: 0) { try readSocket() }
            try processBuffered()
            try flush(deadline: Deadline(after: timeout), what: "sending requests")
        } catch {
            if case .timeout = error {} else { failure = error }
            throw error
        }
    }

    /// The socket, for a caller's own poll or epoll (readable: call `dispatchPending`).
    var fileDescriptor: Int32 { connection.socket.rawValue }

    /// Whether the server has closed its end (everything it sent before may
    /// still be buffered).
    var serverClosed: Bool { peerClosed }

    /// Closes the socket; later calls fail with `disconnected`.
    func close() {
        connection.socket.close()
        if failure == nil { failure = .disconnected("the client was closed") }
    }

    private func waitReadable(milliseconds: Int32) throws(HarnessError) -> Bool {
        var p = pollfd(fd: connection.socket.rawValue, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, milliseconds)
        if r < 0 {
            if errno == EINTR { return false }
            throw .system(context: "poll on the Wayland socket", SystemError("poll"))
        }
        return r > 0
    }

    private func readSocket() throws(HarnessError) {
        if !(try system("read from the Wayland socket") { () throws(SystemError) in try connection.fill() }) { peerClosed = true }
    }

    /// Writes all queued output, polling for room. A failed write first looks
    /// for a wl_display.error the server sent before closing, as libwayland does.
    private func flush(deadline: Deadline, what: String) throws(HarnessError) {
        while true {
            let done: Bool
            do { done = try connection.flush() } catch {
                _ = try? connection.fill()
                try processBuffered()
                throw .system(context: "send requests while waiting for \(what)", error)
            }
            if done { return }
            let ms = deadline.remainingMilliseconds
            if ms == 0 { throw .timeout("room in the socket to send requests (\(what))") }
            var p = pollfd(fd: connection.socket.rawValue, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, ms)
        }
    }

    private func processBuffered() throws(HarnessError) {
        while true {
            let next: (header: MessageHeader, bytes: [UInt8])?
            do { next = try connection.nextMessage() } catch { throw .malformedMessage(context: "event stream", error) }
            guard let (header, bytes) = next else { return }
            try handle(header, bytes)
        }
    }

    private func handle(_ header: MessageHeader, _ bytes: [UInt8]) throws(HarnessError) {
        let id = header.objectID
        guard let entry = objects[id] else { throw .protocolViolation("event opcode \(header.opcode) for unknown object \(id)") }
        let interface = entry.interface
        guard Int(header.opcode) < interface.events.count else {
            throw .protocolViolation("\(interface.name)@\(id) has no event opcode \(header.opcode)")
        }
        let spec = interface.events[Int(header.opcode)]
        let what = "\(interface.name).\(spec.name) on \(id)"
        guard spec.since <= entry.version else {
            throw .protocolViolation("\(what) needs version \(spec.since), object has \(entry.version)")
        }
        guard let fds = connection.takeFds(spec.fdCount) else { throw .protocolViolation("\(what) arrived without its fds") }
        let args: [WireArg]
        do { args = try WireCodec.decode(bytes, spec) } catch { throw .malformedMessage(context: what, error) }
        if id == Wire.displayID && header.opcode == 0 { throw displayError(args) }
        do {
            try objects.apply(sender: id, entry: entry, opcode: header.opcode, spec: spec, args: args, isRequest: false)
        } catch {
            throw .protocolViolation("\(what): \(error)")
        }
        if id == Wire.displayID {
            if case .uint(let deleted)? = args.first, deleted < Wire.serverIDStart { freeIDs.append(deleted) }
            return
        }
        guard entry.alive else { return } // an object we destroyed; the server had not seen that yet
        if interface.name == "wl_callback" { callbackDone[id] = true }
        try eventHandler?(ClientEvent(objectID: id, interface: interface, spec: spec, args: args, fds: fds))
    }

    private func displayError(_ args: [WireArg]) -> HarnessError {
        guard args.count == 3, case .object(let object) = args[0], case .uint(let code) = args[1], case .string(let text) = args[2] else {
            return .protocolViolation("malformed wl_display.error")
        }
        let name = objects[object]?.interface.name ?? "unknown"
        return .protocolError(objectID: object, interface: name, code: code, message: String(decoding: text ?? [], as: UTF8.self))
    }
}
