import Glibc
import PortholeSystem
import Testing
import Wayland

/// A "compositor" for in-process tests: a unix listening socket on the
/// test's event loop that accepts every connection, records each message it
/// receives (decoded against its own object map, with the fds that came with
/// it) and sends whatever the test tells it to. By default it answers the
/// two requests every client starts with: wl_display.get_registry (with one
/// wl_registry.global per entry of `globals`) and wl_display.sync (done,
/// then delete_id).
final class ScriptedCompositor {
    /// One global announced to every registry.
    struct Global: Sendable {
        var name: UInt32
        var interface: String
        var version: UInt32
    }

    /// What a host proxy carries, plus two globals it must hide:
    /// `weston_screenshooter` (unknown to the tables) and
    /// `zwp_linux_dmabuf_v1` (carries fds the proxies cannot translate).
    static let standardGlobals: [Global] = [
        Global(name: 1, interface: "wl_compositor", version: 5),
        Global(name: 2, interface: "wl_shm", version: 1),
        Global(name: 3, interface: "wl_seat", version: 8),
        Global(name: 4, interface: "wl_data_device_manager", version: 3),
        Global(name: 5, interface: "zwp_virtual_keyboard_manager_v1", version: 1),
        Global(name: 6, interface: "weston_screenshooter", version: 1),
        Global(name: 7, interface: "zwp_linux_dmabuf_v1", version: 4),
        // Newer than the built-in tables (xdg_wm_base 5): the host caps it.
        Global(name: 8, interface: "xdg_wm_base", version: 7),
    ]

    let path: String
    let tables: ProtocolTables
    var globals: [Global]
    /// Answer get_registry and sync by itself.
    var autoRespond = true
    private let loop: EventLoop
    private let listener: OwnedFD
    private var token: EventLoop.Token?
    /// Every connection accepted, in order (the host opens one per channel).
    private(set) var clients: [CompositorClient] = []

    init(path: String, loop: EventLoop, globals: [Global] = standardGlobals, tables: ProtocolTables = .builtin) throws {
        self.path = path
        self.loop = loop
        self.globals = globals
        self.tables = tables
        listener = try Socket.listen(.unix(path: path))
        token = try loop.register(listener.rawValue, events: .readable) { [unowned self] _ in self.accept() }
    }

    private func accept() {
        while let fd = try? Socket.accept(listener) {
            guard let client = try? CompositorClient(socket: fd, compositor: self, loop: loop) else { continue }
            clients.append(client)
        }
    }

    /// Closes the listener and every connection.
    func stop() {
        if let t = token { loop.unregister(t) }
        token = nil
        listener.close()
        for c in clients { c.close() }
        unlink(path)
    }

    /// Answers what `autoRespond` covers.
    fileprivate func respond(to m: CompositorClient.Message, on c: CompositorClient) {
        guard autoRespond, m.objectID == Wire.displayID, let id = m.args.first?.word else { return }
        switch m.opcode {
        case 0: // sync
            c.send(id, 0, [.uint(c.nextSerial())])
            c.send(Wire.displayID, 1, [.uint(id)])
        case 1: // get_registry
            for g in globals { c.send(id, 0, [.uint(g.name), .text(g.interface), .uint(g.version)]) }
        default:
            break
        }
    }
}

/// One connection to the scripted compositor (one host channel).
final class CompositorClient {
    /// A request as the compositor read it.
    struct Message: CustomStringConvertible {
        var objectID: UInt32
        var opcode: UInt16
        /// The whole message, header included.
        var bytes: [UInt8]
        /// "interface.request", when the compositor knows the object.
        var name: String?
        var args: [WireArg]
        /// The fds that came with it.
        var fds: [OwnedFD]
        var description: String { "\(name ?? "?")@\(objectID) opcode \(opcode) \(args)" }
    }

    let socket: OwnedFD
    private unowned let compositor: ScriptedCompositor
    private let loop: EventLoop
    private var token: EventLoop.Token?
    private let input = ReadBuffer()
    private let output = WriteQueue()
    /// The compositor's view of the objects: what it would accept.
    let objects: ObjectMap
    private(set) var messages: [Message] = []
    /// Set when a message could not be decoded (the host forwarded garbage).
    private(set) var parseErrors: [String] = []
    /// The host closed the connection.
    private(set) var sawEOF = false
    private var serial: UInt32 = 100
    /// False after `stopReading()`: what the host writes piles up in the socket.
    private var reading = true

    init(socket: OwnedFD, compositor: ScriptedCompositor, loop: EventLoop) throws {
        self.socket = socket
        self.compositor = compositor
        self.loop = loop
        objects = ObjectMap(tables: compositor.tables)
        token = try loop.register(socket.rawValue, events: .readable) { [unowned self] ev in self.event(ev) }
    }

    func nextSerial() -> UInt32 {
        serial += 1
        return serial
    }

    /// Messages whose name is `name` ("wl_shm.create_pool").
    func messages(named name: String) -> [Message] { messages.filter { $0.name == name } }

    /// Sends an event.
    func send(_ object: UInt32, _ opcode: UInt16, _ args: [WireArg], fds: [OwnedFD] = []) {
        send(WireCodec.encode(objectID: object, opcode: opcode, args), fds: fds)
    }

    /// Sends raw bytes (and fds) as they are. Events creating objects are
    /// tracked so later requests to them decode.
    func send(_ bytes: [UInt8], fds: [OwnedFD] = []) {
        track(events: bytes)
        output.enqueue(bytes, fds: fds)
        flush()
    }

    /// Stops reading the socket (a compositor that hangs).
    func stopReading() {
        reading = false
        if let t = token { loop.modify(t, events: output.isEmpty ? [] : .writable) }
    }

    func resumeReading() {
        reading = true
        flush()
    }

    func close() {
        if let t = token { loop.unregister(t) }
        token = nil
        socket.close()
    }

    private func flush() {
        guard !socket.isClosed else { return }
        _ = try? output.flush(to: socket)
        var events: EventLoop.Events = reading ? .readable : []
        if !output.isEmpty { events.insert(.writable) }
        if let t = token { loop.modify(t, events: events) }
    }

    private func event(_ ev: EventLoop.Events) {
        if ev.contains(.writable) { flush() }
        guard reading else { return }
        let alive = (try? input.fill(from: socket)) ?? false
        parse()
        if !alive {
            sawEOF = true
            close()
        }
    }

    private func parse() {
        while let h = input.withUnconsumed({ MessageHeader.peek($0) }) {
            guard h.size >= Wire.headerSize, h.size % 4 == 0 else {
                parseErrors.append("bad size \(h.size)")
                input.consume(input.count)
                return
            }
            guard input.count >= h.size else { return }
            let bytes = input.withUnconsumed { Array($0[0..<h.size]) }
            input.consume(h.size)
            var m = Message(objectID: h.objectID, opcode: h.opcode, bytes: bytes, name: nil, args: [], fds: [])
            if let entry = objects[h.objectID], Int(h.opcode) < entry.interface.requests.count {
                let spec = entry.interface.requests[Int(h.opcode)]
                m.name = "\(entry.interface.name).\(spec.name)"
                do {
                    m.args = try bytes.withUnsafeBytes { try WireCodec.decode($0, spec) }
                    m.fds = input.takeFds(spec.fdCount) ?? []
                    try objects.apply(sender: h.objectID, entry: entry, opcode: h.opcode, spec: spec, args: m.args, isRequest: true)
                } catch {
                    parseErrors.append("\(m.name!): \(error)")
                }
            } else {
                parseErrors.append("unknown object \(h.objectID) or opcode \(h.opcode)")
            }
            messages.append(m)
            compositor.respond(to: m, on: self)
        }
    }

    /// Keeps the object map up to date with events the test sends.
    private func track(events bytes: [UInt8]) {
        var o = 0
        while o + Wire.headerSize <= bytes.count {
            guard let h = bytes.withUnsafeBytes({ MessageHeader.peek(UnsafeRawBufferPointer(rebasing: $0[o...])) }),
                  h.size >= Wire.headerSize, o + h.size <= bytes.count else { return }
            if let entry = objects[h.objectID], Int(h.opcode) < entry.interface.events.count {
                let spec = entry.interface.events[Int(h.opcode)]
                if let args = try? bytes.withUnsafeBytes({ try WireCodec.decode(UnsafeRawBufferPointer(rebasing: $0[o..<(o + h.size)]), spec) }) {
                    try? objects.apply(sender: h.objectID, entry: entry, opcode: h.opcode, spec: spec, args: args, isRequest: false)
                }
            }
            o += h.size
        }
    }
}
