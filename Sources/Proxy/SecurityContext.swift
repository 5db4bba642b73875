import Glibc
import PortholeSystem
import Wayland

/// One guest registered with the host compositor's security contexts
/// (wp_security_context_v1, where the compositor offers it): the host makes a
/// listening socket, hands it to the compositor with the context "sandbox
/// engine porthole, app id = the guest's name", and connects that guest's
/// channels through it, so the compositor's own rules for sandboxed clients
/// apply to them. The compositor stops listening when `end()` hangs up the
/// close pipe.
final class SecurityContext {
    /// Where this guest's compositor connections are made.
    let socketPath: String
    /// The compositor listens until this write end is closed.
    private let closeWrite: OwnedFD
    /// The registering connection, kept for the life of the context.
    private let registration: OwnedFD

    private init(socketPath: String, closeWrite: OwnedFD, registration: OwnedFD) {
        self.socketPath = socketPath
        self.closeWrite = closeWrite
        self.registration = registration
    }

    /// The sandbox engine name the compositor is given.
    static let engine = "porthole"
    /// How long the compositor may take to answer (the host's loop waits:
    /// a compositor answers a roundtrip in well under a millisecond).
    static let timeout = 1.0

    /// Registers `guest` with the compositor at `displayPath`; nil when the
    /// compositor offers no security context manager. `socketPath` is where
    /// the listening socket goes.
    static func register(displayPath: String, guest: String, instance: String, socketPath: String,
                         tables: ProtocolTables) throws(ProxyError) -> SecurityContext? {
        do {
            let fd = try Socket.connect(.unix(path: displayPath))
            let exchange = Exchange(fd: fd, tables: tables)
            let registry: UInt32 = 2
            try exchange.send(WlDisplayGetRegistry(registry: registry).encode(objectID: Wire.displayID))
            let globals = try exchange.roundtrip(callback: 3, registry: registry)
            guard let manager = globals.first(where: { $0.interface == "wp_security_context_manager_v1" }) else { return nil }

            FileSystem.remove(socketPath)
            let listener = try Socket.listen(.unix(path: socketPath))
            let (closeRead, closeWrite) = try Pipe.make()
            let managerID: UInt32 = 4, contextID: UInt32 = 5
            try exchange.send(WlRegistryBind(name: manager.name, id: UntypedNewID(interface: Array("wp_security_context_manager_v1".utf8), version: 1, id: managerID)).encode(objectID: registry))
            try exchange.send(WpSecurityContextManagerV1CreateListener(id: contextID).encode(objectID: managerID),
                              fds: [listener.rawValue, closeRead.rawValue])
            try exchange.send(WpSecurityContextV1SetSandboxEngine(name: Array(engine.utf8)).encode(objectID: contextID))
            try exchange.send(WpSecurityContextV1SetAppId(appId: Array(guest.utf8)).encode(objectID: contextID))
            try exchange.send(WpSecurityContextV1SetInstanceId(instanceId: Array(instance.utf8)).encode(objectID: contextID))
            try exchange.send(WpSecurityContextV1Commit().encode(objectID: contextID))
            // The compositor holds copies of both fds now; an error would come before this answer.
            _ = try exchange.roundtrip(callback: 6, registry: registry)
            listener.close()
            closeRead.close()
            return SecurityContext(socketPath: socketPath, closeWrite: closeWrite, registration: fd)
        } catch let error as ProxyError {
            throw error
        } catch {
            throw .configuration("cannot register \(guest) with the compositor's security context: \(error)")
        }
    }

    /// The guest is gone: the compositor stops listening; the socket file goes.
    func end() {
        closeWrite.close()
        registration.close()
        FileSystem.remove(socketPath)
    }

    /// A blocking request/answer exchange with the compositor, for registering only.
    private final class Exchange {
        let fd: OwnedFD
        let tables: ProtocolTables
        let input = ReadBuffer()

        init(fd: OwnedFD, tables: ProtocolTables) {
            self.fd = fd
            self.tables = tables
        }

        func send(_ bytes: [UInt8], fds: [Int32] = []) throws {
            let n = try bytes.withUnsafeBytes { b in try Socket.send(fd, b, fds: fds) }
            guard n == bytes.count else { throw ProxyError.configuration("the compositor took \(n) of \(bytes.count) bytes") }
        }

        /// Sends wl_display.sync with `callback` and reads until its done,
        /// collecting the registry's globals and failing on wl_display.error.
        func roundtrip(callback: UInt32, registry: UInt32) throws -> [(name: UInt32, interface: String)] {
            try send(WlDisplaySync(callback: callback).encode(objectID: Wire.displayID))
            var globals: [(name: UInt32, interface: String)] = []
            let deadline = Double(clockSeconds()) + SecurityContext.timeout
            while true {
                while let (header, args) = try next(registry: registry) {
                    switch (header.objectID, header.opcode) {
                    case (callback, 0): return globals
                    case (registry, 0):
                        if let g = WlRegistryGlobal(args) { globals.append((g.name, String(decoding: g.interface, as: UTF8.self))) }
                    case (Wire.displayID, 0):
                        let e = WlDisplayError(args)
                        throw ProxyError.configuration("the compositor refused: \(LogText.escaped(e?.message ?? []))")
                    default: break
                    }
                }
                let left = deadline - Double(clockSeconds())
                guard left > 0, try Socket.waitReadable(fd, timeout: left) else {
                    throw ProxyError.configuration("the compositor did not answer within \(SecurityContext.timeout) s")
                }
                guard try input.fill(from: fd, limit: 65536) else { throw ProxyError.configuration("the compositor closed the connection") }
                input.fds.removeAll()
            }
        }

        /// The next whole event, decoded when it is one this exchange reads.
        private func next(registry: UInt32) throws -> (MessageHeader, [WireArg])? {
            guard let header = input.withUnconsumed({ MessageHeader.peek($0) }), input.count >= header.size else { return nil }
            try header.validate()
            let spec: MessageSpec?
            switch header.objectID {
            case Wire.displayID: spec = tables.display.events[safe: Int(header.opcode)]
            case registry: spec = tables["wl_registry"]?.events[safe: Int(header.opcode)]
            default: spec = nil
            }
            let args = try spec.map { s in try input.withUnconsumed { try WireCodec.decode(UnsafeRawBufferPointer(rebasing: $0[0..<header.size]), s) } } ?? []
            input.consume(header.size)
            return (header, args)
        }
    }

    private static func clockSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}

private extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
