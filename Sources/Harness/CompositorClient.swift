import PortholeSystem
import Wayland

/// One client connection of the recording compositor: reads requests,
/// decodes each against `ProtocolTables.builtin` using the connection's
/// `ObjectMap`, rejects unknown objects and opcodes with wl_display.error,
/// and hands valid requests to the handlers in CompositorClient+Requests.
final class CompositorClient {
    /// Connection number, from 1.
    let number: Int
    let connection: WireConnection
    let objects = ObjectMap(tables: .builtin)
    unowned let server: CompositorServer
    /// The event-loop registration of the socket.
    var token: EventLoop.Token?
    private var watchingWritable = false
    private(set) var closed = false

    var pools: [UInt32: ShmPoolMemory] = [:]
    var buffers: [UInt32: ShmBufferState] = [:]
    var surfaces: [UInt32: SurfaceState] = [:]
    /// xdg_surface id to its wl_surface id.
    var xdgSurfaces: [UInt32: UInt32] = [:]
    /// xdg_toplevel id to its xdg_surface id.
    var toplevels: [UInt32: UInt32] = [:]
    /// Committed frame callbacks waiting for the next tick.
    var dueFrameCallbacks: [UInt32] = []
    /// Committed buffers to release at the next tick (`BufferRelease.onFrameTick`).
    var dueReleases: [(id: UInt32, buffer: ShmBufferState)] = []

    init(number: Int, socket: OwnedFD, server: CompositorServer) {
        self.number = number
        connection = WireConnection(socket: socket)
        self.server = server
    }

    /// Reacts to socket readiness.
    func handle(_ events: EventLoop.Events) {
        if !events.intersection([.readable, .hangup, .error]).isEmpty { readRequests() }
        flushOrWatch()
    }

    private func readRequests() {
        let open: Bool
        do { open = try connection.fill() } catch {
            disconnect()
            return
        }
        while !closed {
            do throws(ProtocolFault) {
                let next: (header: MessageHeader, bytes: [UInt8])?
                do { next = try connection.nextMessage() } catch {
                    throw ProtocolFault(objectID: Wire.displayID, code: ProtocolFault.invalidMethod, message: "malformed message: \(error)")
                }
                guard let (header, bytes) = next else { break }
                try dispatch(header, bytes)
            } catch {
                post(error)
            }
        }
        if !open { disconnect() }
    }

    private func dispatch(_ header: MessageHeader, _ bytes: [UInt8]) throws(ProtocolFault) {
        let id = header.objectID
        guard let entry = objects[id], entry.alive else {
            throw ProtocolFault(objectID: Wire.displayID, code: ProtocolFault.invalidObject, message: "invalid object \(id)")
        }
        let iface = entry.interface
        let opcode = Int(header.opcode)
        guard opcode < iface.requests.count, iface.requests[opcode].since <= entry.version else {
            throw ProtocolFault(objectID: id, code: ProtocolFault.invalidMethod, message: "invalid method \(opcode), object \(iface.name)@\(id) version \(entry.version)")
        }
        let spec = iface.requests[opcode]
        let what = "\(iface.name)@\(id).\(spec.name)"
        guard let fds = connection.takeFds(spec.fdCount) else {
            throw ProtocolFault(objectID: Wire.displayID, code: ProtocolFault.invalidMethod, message: "\(what): file descriptor expected")
        }
        let args: [WireArg]
        do { args = try WireCodec.decode(bytes, spec) } catch {
            throw ProtocolFault(objectID: Wire.displayID, code: ProtocolFault.invalidMethod, message: "\(what): \(error)")
        }
        try checkObjectArguments(spec, args, what)
        if iface.name == "wl_registry" && spec.name == "bind" { try checkBind(args) }
        do {
            try objects.apply(sender: id, entry: entry, opcode: header.opcode, spec: spec, args: args, isRequest: true)
        } catch {
            throw ProtocolFault(objectID: Wire.displayID, code: ProtocolFault.invalidObject, message: "\(what): \(error)")
        }
        try handleRequest(id, iface.name, spec.name, args, fds)
        if spec.isDestructor && id < Wire.serverIDStart { sendDeleteID(id) }
    }

    /// Object arguments must name live objects of the declared interface.
    private func checkObjectArguments(_ spec: MessageSpec, _ args: [WireArg], _ what: String) throws(ProtocolFault) {
        for (a, value) in zip(spec.args, args) where a.type == .object {
            guard case .object(let ref) = value, ref != 0 else { continue }
            guard let target = objects[ref], target.alive else {
                throw ProtocolFault(objectID: Wire.displayID, code: ProtocolFault.invalidObject, message: "invalid object \(ref) in \(what)")
            }
            if let want = a.interface, target.interface.name != want {
                throw ProtocolFault(objectID: Wire.displayID, code: ProtocolFault.invalidObject,
                                    message: "\(what): object \(ref) is a \(target.interface.name), not a \(want)")
            }
        }
    }

    private func checkBind(_ args: [WireArg]) throws(ProtocolFault) {
        guard case .uint(let name) = args[0], case .untypedNewID(let ifaceBytes, let version, _) = args[1] else { return }
        let iface = String(decoding: ifaceBytes, as: UTF8.self)
        guard let global = server.globals.first(where: { $0.name == name }), global.interface == iface else {
            throw ProtocolFault(objectID: Wire.displayID, code: ProtocolFault.invalidObject, message: "invalid global \(iface) (\(name))")
        }
        guard version >= 1 && version <= global.version else {
            throw ProtocolFault(objectID: Wire.displayID, code: ProtocolFault.invalidObject,
                                message: "invalid version for global \(iface) (\(name)): have \(global.version), wanted \(version)")
        }
    }

    // MARK: Sending

    /// Queues the event named `name` on `objectID` and applies it to the map.
    func sendEvent(_ objectID: UInt32, _ name: String, _ args: [WireArg] = []) {
        guard let entry = objects[objectID], let opcode = entry.interface.eventOpcode(name) else {
            preconditionFailure("no event \(name) on object \(objectID)")
        }
        let spec = entry.interface.events[Int(opcode)]
        try? objects.apply(sender: objectID, entry: entry, opcode: opcode, spec: spec, args: args, isRequest: false)
        connection.enqueue(objectID: objectID, opcode: opcode, args)
    }

    /// Tells the client a client-allocated id is free again.
    func sendDeleteID(_ id: UInt32) { sendEvent(Wire.displayID, "delete_id", [.uint(id)]) }

    /// Sends wl_callback.done then delete_id, if `id` is still a live callback.
    func completeCallback(_ id: UInt32, _ data: UInt32) {
        guard let entry = objects[id], entry.alive, entry.interface.name == "wl_callback" else { return }
        sendEvent(id, "done", [.uint(data)])
        sendDeleteID(id)
    }

    /// Releases `buffer` (known as `id`) unless the client destroyed it.
    func release(_ id: UInt32, _ buffer: ShmBufferState) {
        if buffers[id] === buffer, objects[id]?.alive == true { sendEvent(id, "release") }
    }

    /// Releases the buffers committed since the last tick.
    func releaseDueBuffers() {
        guard !dueReleases.isEmpty, !closed else { return }
        for (id, buffer) in dueReleases { release(id, buffer) }
        dueReleases.removeAll()
    }

    /// Fires the frame callbacks committed since the last tick.
    func fireDueFrameCallbacks() {
        guard !dueFrameCallbacks.isEmpty, !closed else { return }
        let time = server.timestamp
        for id in dueFrameCallbacks { completeCallback(id, time) }
        dueFrameCallbacks.removeAll()
    }

    /// Posts wl_display.error, records it, and disconnects.
    func post(_ fault: ProtocolFault) {
        guard !closed else { return }
        let name = objects[fault.objectID]?.interface.name ?? "?"
        server.log.noteError("client \(number): \(name)@\(fault.objectID) error \(fault.code): \(fault.message)")
        connection.enqueue(objectID: Wire.displayID, opcode: 0, [.object(fault.objectID), .uint(fault.code), .text(fault.message)])
        _ = try? connection.flush()
        disconnect()
    }

    /// Writes queued events; watches for writability while some remain.
    func flushOrWatch() {
        guard !closed, let token else { return }
        let done: Bool
        do { done = try connection.flush() } catch {
            disconnect()
            return
        }
        if done == watchingWritable {
            watchingWritable = !done
            server.loop.modify(token, events: done ? .readable : [.readable, .writable])
        }
    }

    /// Closes the connection and forgets the client. Safe to call twice.
    func disconnect() {
        guard !closed else { return }
        closed = true
        if let token { server.loop.unregister(token) }
        connection.socket.close()
        pools.removeAll()
        buffers.removeAll()
        server.remove(self)
    }
}
