import Glibc
import PortholeSystem
import Wayland

/// A compositor on the fuzzer's own event loop, for the whole-host target:
/// it accepts the host's connections, answers what every client starts
/// with (get_registry, sync, wl_shm's formats, delete_id after a destructor)
/// and decodes every request the host forwards as a strict compositor
/// would. A request it cannot decode or track is a finding: the host let
/// through something it promised to refuse.
public final class LoopCompositor {
    public struct Global: Sendable {
        public var name: UInt32
        public var interface: String
        public var version: UInt32
    }

    /// What a headless weston 10 announces, under the same names, so that
    /// recorded sessions bind what they bound there (two of them hidden by
    /// the host: explicit synchronization carries fds, the screenshooter is
    /// weston's own).
    public static let globals: [Global] = [
        ("wl_compositor", 4), ("wl_subcompositor", 1), ("wp_viewporter", 1), ("zxdg_output_manager_v1", 2), ("wp_presentation", 1),
        ("zwp_relative_pointer_manager_v1", 1), ("zwp_pointer_constraints_v1", 1), ("zwp_input_timestamps_manager_v1", 1),
        ("wl_data_device_manager", 3), ("wl_shm", 1), ("zwp_linux_explicit_synchronization_v1", 2), ("wl_output", 3),
        ("zwp_input_panel_v1", 1), ("zwp_text_input_manager_v1", 1), ("xdg_wm_base", 3), ("weston_desktop_shell", 1),
        ("weston_screenshooter", 1), ("wl_seat", 7),
    ].enumerated().map { Global(name: UInt32($0.offset + 1), interface: $0.element.0, version: UInt32($0.element.1)) }

    public let path: String
    private let loop: EventLoop
    private let listener: ConnectionListener
    private var clients: [ObjectIdentifier: Client] = [:]
    /// Requests decoded, over all connections (how deep inputs reach).
    public private(set) var requests = 0

    public init(path: String, loop: EventLoop) throws {
        self.path = path
        self.loop = loop
        var accepted: ((OwnedFD) -> Void)?
        listener = try ConnectionListener(socket: try Socket.listen(.unix(path: path)), loop: loop) { accepted?($0) }
        accepted = { [unowned self] fd in
            guard let c = try? Client(socket: fd, compositor: self) else { return }
            clients[ObjectIdentifier(c)] = c
        }
    }

    /// Connections open now.
    public var connections: Int { clients.count }

    fileprivate func closed(_ c: Client) { clients.removeValue(forKey: ObjectIdentifier(c)) }

    fileprivate final class Client {
        let socket: OwnedFD
        unowned let compositor: LoopCompositor
        var token: EventLoop.Token?
        let input = ReadBuffer()
        let output = WriteQueue()
        let objects = ObjectMap(tables: .builtin)
        var serial: UInt32 = 1
        /// Frame callbacks asked for, answered at the next commit.
        var frameCallbacks: [UInt32] = []

        init(socket: OwnedFD, compositor: LoopCompositor) throws {
            self.socket = socket
            self.compositor = compositor
            token = try compositor.loop.register(socket.rawValue, events: .readable) { [unowned self] _ in self.readable() }
        }

        func readable() {
            let alive = (try? input.fill(from: socket)) ?? false
            while parseOne() {}
            _ = try? output.flush(to: socket)
            if !alive {
                if let t = token { compositor.loop.unregister(t) }
                token = nil
                socket.close()
                compositor.closed(self)
            }
        }

        func send(_ object: UInt32, _ opcode: UInt16, _ args: [WireArg]) {
            let bytes = WireCodec.encode(objectID: object, opcode: opcode, args)
            if let entry = objects[object], Int(opcode) < entry.interface.events.count {
                try? objects.apply(sender: object, entry: entry, opcode: opcode, spec: entry.interface.events[Int(opcode)], args: args, isRequest: false)
            }
            output.enqueue(bytes)
        }

        /// Decodes and answers one request; false when none is whole yet.
        func parseOne() -> Bool {
            guard let h = input.withUnconsumed({ MessageHeader.peek($0) }) else { return false }
            FuzzCheck((try? h.validate()) != nil, "the host forwarded a message of \(h.size) bytes")
            guard input.count >= h.size else { return false }
            let bytes = input.withUnconsumed { Array($0[0..<h.size]) }
            input.consume(h.size)
            let entry = objects[h.objectID]
            FuzzCheck(entry?.alive == true, "the host forwarded a request to object \(h.objectID), which \(entry == nil ? "does not exist" : "was destroyed")")
            guard let entry else { return true }
            FuzzCheck(Int(h.opcode) < entry.interface.requests.count, "the host forwarded opcode \(h.opcode) of \(entry.interface.name)")
            let spec = entry.interface.requests[Int(h.opcode)]
            FuzzCheck(spec.since <= entry.version, "the host forwarded \(entry.interface.name).\(spec.name) to version \(entry.version)")
            let args: [WireArg]
            do { args = try bytes.withUnsafeBytes { try WireCodec.decode($0, spec) } } catch {
                FuzzCheck(false, "the host forwarded \(entry.interface.name).\(spec.name) that does not decode: \(error)")
                return true
            }
            let fds = input.takeFds(spec.fdCount)
            FuzzCheck(fds != nil, "\(entry.interface.name).\(spec.name) came without its fd")
            for (a, value) in zip(spec.args, args) {
                guard case .object(let id) = value, id != 0 else { continue }
                let named = objects[id]
                FuzzCheck(named?.alive == true && (a.interface == nil || named?.interface.name == a.interface),
                          "\(entry.interface.name).\(spec.name) names object \(id), a \(named.map { "\($0.interface.name)" } ?? "missing one")")
            }
            do { try objects.apply(sender: h.objectID, entry: entry, opcode: h.opcode, spec: spec, args: args, isRequest: true) } catch {
                FuzzCheck(false, "the host forwarded \(entry.interface.name).\(spec.name) that cannot be tracked: \(error)")
            }
            compositor.requests += 1
            answer(h.objectID, entry.interface.name, spec, args)
            return true
        }

        private func answer(_ object: UInt32, _ interface: String, _ spec: MessageSpec, _ args: [WireArg]) {
            switch (interface, spec.name) {
            case ("wl_display", "sync"):
                if case .newID(let id)? = args.first {
                    serial += 1
                    send(id, 0, [.uint(serial)])
                    send(Wire.displayID, 1, [.uint(id)])
                }
            case ("wl_display", "get_registry"):
                if case .newID(let id)? = args.first {
                    for g in LoopCompositor.globals { send(id, 0, [.uint(g.name), .text(g.interface), .uint(g.version)]) }
                }
            case ("wl_registry", "bind"):
                if case .untypedNewID(let name, _, let id)? = args.last, name.elementsEqual("wl_shm".utf8) {
                    for format in [UInt32(0), 1, 0x3432_4258, 0x3231_564E] { send(id, 0, [.uint(format)]) }
                }
            case ("wl_surface", "frame"):
                if case .newID(let id)? = args.first { frameCallbacks.append(id) }
            case ("wl_surface", "commit"):
                serial += 1
                for id in frameCallbacks {
                    send(id, 0, [.uint(serial)])
                    send(Wire.displayID, 1, [.uint(id)])
                }
                frameCallbacks.removeAll()
            default:
                if spec.isDestructor && object < Wire.serverIDStart { send(Wire.displayID, 1, [.uint(object)]) }
            }
        }
    }
}
