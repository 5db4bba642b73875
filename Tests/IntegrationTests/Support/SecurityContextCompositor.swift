import Foundation
import Glibc
import PortholeSystem
import Wayland

/// A stand-in compositor on its own thread that offers
/// wp_security_context_manager_v1, as sway 1.8+ and others do (the
/// compositors installed here do not). It answers registries and syncs,
/// records the security contexts it is given, accepts connections on their
/// listening sockets, and notices when a context's close fd hangs up.
final class SecurityContextCompositor: @unchecked Sendable {
    struct Context: Sendable {
        var engine = "", appID = "", instanceID = ""
        var committed = false
        var clients = 0
        var closed = false
    }

    let socketPath: String
    private let lock = NSLock()
    private var _contexts: [Context] = []
    private var _displayClients = 0
    private var stopping = false
    private var thread: Thread?
    private let display: OwnedFD

    var contexts: [Context] { lock.withLock { _contexts } }
    /// Connections made to the display socket itself.
    var displayClients: Int { lock.withLock { _displayClients } }

    static let globals: [(UInt32, String, UInt32)] = [(1, "wl_compositor", 4), (2, "wl_shm", 1), (3, "wp_security_context_manager_v1", 1)]

    init(socketPath: String) throws {
        self.socketPath = socketPath
        display = try Socket.listen(.unix(path: socketPath))
        let t = Thread { [self] in run() }
        thread = t
        t.start()
    }

    func stop() { lock.withLock { stopping = true } }

    /// One client connection: its bytes, and the context it came through (nil: the display).
    private final class Client {
        let fd: OwnedFD
        let context: Int?
        let input = ReadBuffer()
        var objects: [UInt32: String] = [1: "wl_display"]
        init(fd: OwnedFD, context: Int?) { self.fd = fd; self.context = context }
    }

    private func run() {
        var clients: [Client] = []
        var listeners: [(fd: OwnedFD, close: OwnedFD, context: Int)] = []
        while !lock.withLock({ stopping }) {
            var fds = [pollfd(fd: display.rawValue, events: Int16(POLLIN), revents: 0)]
            fds += listeners.flatMap { [pollfd(fd: $0.fd.rawValue, events: Int16(POLLIN), revents: 0), pollfd(fd: $0.close.rawValue, events: Int16(POLLIN), revents: 0)] }
            fds += clients.map { pollfd(fd: $0.fd.rawValue, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 50) > 0 else { continue }
            let base = 1 + 2 * listeners.count
            if fds[0].revents != 0, let c = try? Socket.accept(display) {
                clients.append(Client(fd: c, context: nil))
                lock.withLock { _displayClients += 1 }
            }
            for (i, l) in listeners.enumerated() {
                if fds[1 + 2 * i].revents != 0, let c = try? Socket.accept(l.fd) {
                    clients.append(Client(fd: c, context: l.context))
                    lock.withLock { _contexts[l.context].clients += 1 }
                }
                if fds[2 + 2 * i].revents != 0 { lock.withLock { _contexts[l.context].closed = true } }
            }
            let ended = lock.withLock { Set(_contexts.indices.filter { _contexts[$0].closed }) }
            listeners.removeAll { ended.contains($0.context) }
            var gone: Set<ObjectIdentifier> = []
            for (i, c) in clients.enumerated() where i + base < fds.count && fds[i + base].revents != 0 {
                guard (try? c.input.fill(from: c.fd, limit: 65536)) == true else { gone.insert(ObjectIdentifier(c)); continue }
                if let l = serve(c) { listeners.append(l) }
            }
            clients.removeAll { gone.contains(ObjectIdentifier($0)) }
        }
    }

    /// Answers what `c` sent; returns a listener a create_listener made.
    private func serve(_ c: Client) -> (fd: OwnedFD, close: OwnedFD, context: Int)? {
        var made: (OwnedFD, OwnedFD, Int)?
        while let h = c.input.withUnconsumed({ MessageHeader.peek($0) }), c.input.count >= h.size {
            let body = c.input.withUnconsumed { Array($0[8..<h.size]) }
            c.input.consume(h.size)
            func word(_ i: Int) -> UInt32 { body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) } }
            func text(_ at: Int) -> String {
                let n = Int(word(at))
                return String(decoding: body[(4 * at + 4)..<(4 * at + 4 + max(0, n - 1))], as: UTF8.self)
            }
            switch (c.objects[h.objectID], h.opcode) {
            case ("wl_display", 0): // sync
                send(c, WireCodec.encode(objectID: word(0), opcode: 0, [.uint(0)]))
            case ("wl_display", 1): // get_registry
                c.objects[word(0)] = "wl_registry"
                for g in Self.globals { send(c, WireCodec.encode(objectID: word(0), opcode: 0, [.uint(g.0), .text(g.1), .uint(g.2)])) }
            case ("wl_registry", 0): // bind(name, interface, version, id)
                let interface = text(1)
                let idAt = 1 + 1 + (Int(word(1)) + 3) / 4 + 1
                c.objects[word(idAt)] = interface
            case ("wp_security_context_manager_v1", 1): // create_listener(id, listen_fd, close_fd)
                c.objects[word(0)] = "wp_security_context_v1"
                guard c.input.fds.count >= 2 else { return nil }
                let listen = c.input.fds.removeFirst(), close = c.input.fds.removeFirst()
                try? listen.setNonBlocking()
                let index = lock.withLock { _contexts.append(Context()); return _contexts.count - 1 }
                made = (listen, close, index)
            case ("wp_security_context_v1", let op):
                guard let index = made?.2 ?? lock.withLock({ _contexts.indices.last }) else { break }
                lock.withLock {
                    switch op {
                    case 1: _contexts[index].engine = text(0)
                    case 2: _contexts[index].appID = text(0)
                    case 3: _contexts[index].instanceID = text(0)
                    case 4: _contexts[index].committed = true
                    default: break
                    }
                }
            default:
                break
            }
        }
        return made.map { (fd: $0.0, close: $0.1, context: $0.2) }
    }

    private func send(_ c: Client, _ bytes: [UInt8]) {
        _ = try? bytes.withUnsafeBytes { b in try Socket.send(c.fd, b, fds: []) }
    }
}
