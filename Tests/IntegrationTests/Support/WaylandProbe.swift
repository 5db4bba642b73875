import Foundation
import Glibc
import PortholeSystem
import Wayland

/// A small blocking Wayland client for tests that need to look at what a
/// real compositor (or the guest proxy) sends, fds included: keymaps,
/// clipboard offers. It speaks through the Wayland module (ObjectMap and
/// WireCodec against the built-in tables), sends requests by name, and keeps
/// every event it receives until the test takes it.
final class WaylandProbe {
    /// One received event, decoded.
    struct Event {
        let objectID: UInt32
        let interface: String
        let name: String
        let args: [WireArg]
        /// The fds that came with the event, in argument order.
        let fds: [OwnedFD]

        func string(_ index: Int) -> String? {
            guard index < args.count, case .string(let bytes?) = args[index] else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
        func uint(_ index: Int) -> UInt32? { index < args.count ? args[index].word : nil }
    }

    let socket: OwnedFD
    let objects: ObjectMap
    private let input = ReadBuffer()
    private var nextID: UInt32 = 2
    /// Events not yet taken by the test.
    private(set) var events: [Event] = []
    /// interface -> (registry name, version), filled by `loadGlobals`.
    private(set) var globals: [String: (name: UInt32, version: UInt32)] = [:]
    private var registryID: UInt32 = 0
    /// A wl_display.error received, if any.
    private(set) var protocolError: String?
    private(set) var disconnected = false

    /// Connects to the Wayland socket at the absolute `socketPath`;
    /// `tables` are the protocols it understands.
    init(socketPath: String, tables: ProtocolTables = .builtin) throws {
        objects = ObjectMap(tables: tables)
        socket = try Socket.connect(.unix(path: socketPath))
    }

    func newID() -> UInt32 {
        defer { nextID += 1 }
        return nextID
    }

    /// Sends a request by name; new ids in `args` are recorded.
    func send(_ objectID: UInt32, _ request: String, _ args: [WireArg] = [], fds: [OwnedFD] = []) throws {
        guard let entry = objects[objectID] else { throw SupportError("probe: no object \(objectID) for \(request)") }
        guard let opcode = entry.interface.requestOpcode(request) else {
            throw SupportError("probe: \(entry.interface.name) has no request \(request)")
        }
        let spec = entry.interface.requests[Int(opcode)]
        try objects.apply(sender: objectID, entry: entry, opcode: opcode, spec: spec, args: args, isRequest: true)
        let bytes = WireCodec.encode(objectID: objectID, opcode: opcode, args)
        var offset = 0
        let deadline = monotonicSeconds() + 10
        while offset < bytes.count {
            let n = try bytes.withUnsafeBytes { b in
                try Socket.send(socket, UnsafeRawBufferPointer(rebasing: b[offset...]), fds: offset == 0 ? fds.map(\.rawValue) : [])
            }
            if n == 0 {
                guard monotonicSeconds() < deadline else { throw SupportError("probe: cannot send \(request): socket full") }
                var p = pollfd(fd: socket.rawValue, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 50)
            }
            offset += n
        }
        // The kernel holds its own references to fds in flight.
        for fd in fds { fd.close() }
    }

    /// Reads and decodes whatever arrives for up to `timeout` seconds, or
    /// until `until` holds for the events received so far.
    func dispatch(timeout: Double, until: (WaylandProbe) -> Bool) throws {
        let deadline = monotonicSeconds() + timeout
        while !until(self) {
            if let protocolError { throw SupportError("probe got a protocol error: \(protocolError)") }
            if disconnected { throw SupportError("probe: the server closed the connection") }
            let remaining = deadline - monotonicSeconds()
            guard remaining > 0 else { return }
            var p = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, Int32(min(remaining, 0.05) * 1000) + 1)
            if !(try input.fill(from: socket)) { disconnected = true }
            try decodeBuffered()
        }
    }

    /// Waits for `what` to hold; throws naming it after `timeout`.
    func wait(_ what: String, timeout: Double = 10, until: (WaylandProbe) -> Bool) throws {
        try dispatch(timeout: timeout, until: until)
        guard until(self) else { throw SupportError("probe: timed out after \(timeout) s waiting for \(what)") }
    }

    /// wl_display.sync and wait for its done.
    func roundtrip(timeout: Double = 10) throws {
        let callback = newID()
        try send(Wire.displayID, "sync", [.newID(callback)])
        try wait("a roundtrip", timeout: timeout) { $0.events.contains { $0.objectID == callback && $0.name == "done" } }
        events.removeAll { $0.objectID == callback }
    }

    /// get_registry and a roundtrip: fills `globals`.
    func loadGlobals() throws {
        registryID = newID()
        try send(Wire.displayID, "get_registry", [.newID(registryID)])
        try roundtrip()
        for e in events where e.objectID == registryID && e.name == "global" {
            if let iface = e.string(1), let name = e.uint(0), let version = e.uint(2) { globals[iface] = (name, version) }
        }
        events.removeAll { $0.objectID == registryID }
    }

    /// Binds the global `interface` at min(`version`, advertised); returns the new id.
    func bind(_ interface: String, version: UInt32) throws -> UInt32 {
        if registryID == 0 { try loadGlobals() }
        guard let g = globals[interface] else {
            throw SupportError("probe: no global \(interface); have \(globals.keys.sorted())")
        }
        let id = newID()
        try send(registryID, "bind", [.uint(g.name), .untypedNewID(interface: Array(interface.utf8), version: min(version, g.version), id: id)])
        return id
    }

    /// Removes and returns the events matching `predicate`, oldest first.
    func take(where predicate: (Event) -> Bool) -> [Event] {
        let taken = events.filter(predicate)
        events.removeAll(where: predicate)
        return taken
    }

    func close() { socket.close() }

    private func decodeBuffered() throws {
        while let header = input.withUnconsumed({ MessageHeader.peek($0) }), header.size >= Wire.headerSize, input.count >= header.size {
            guard let entry = objects[header.objectID] else {
                throw SupportError("probe: event for unknown object \(header.objectID)")
            }
            guard Int(header.opcode) < entry.interface.events.count else {
                throw SupportError("probe: \(entry.interface.name) has no event \(header.opcode)")
            }
            let spec = entry.interface.events[Int(header.opcode)]
            let args = try input.withUnconsumed { try WireCodec.decode(UnsafeRawBufferPointer(rebasing: $0[0..<header.size]), spec) }
            guard let fds = input.takeFds(spec.fdCount) else {
                // The fds come with the first bytes of the message; wait for them.
                return
            }
            input.consume(header.size)
            if header.objectID == Wire.displayID && spec.name == "error" {
                var text = ""
                if case .string(let b?) = args[2] { text = String(decoding: b, as: UTF8.self) }
                protocolError = "object \(args[0].word ?? 0) code \(args[1].word ?? 0): \(text)"
            }
            try objects.apply(sender: header.objectID, entry: entry, opcode: header.opcode, spec: spec, args: args, isRequest: false)
            events.append(Event(objectID: header.objectID, interface: entry.interface.name, name: spec.name, args: args, fds: fds))
        }
    }
}

/// The whole content of a file descriptor (a keymap), read with pread from offset 0.
func readWholeFile(_ fd: OwnedFD, limit: Int = 64 << 20) throws -> [UInt8] {
    let size = try fd.fileSize()
    guard size >= 0 && size <= limit else { throw SupportError("file of \(size) bytes") }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    while done < size {
        let n = bytes.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress! + done, size - done, off_t(done)) }
        guard n > 0 else { throw SupportError("pread failed after \(done) of \(size) bytes: \(String(cString: strerror(errno)))") }
        done += n
    }
    return bytes
}

