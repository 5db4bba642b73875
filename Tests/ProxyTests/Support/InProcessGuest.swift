import Glibc
import Link
import PortholeSystem
@testable import Proxy
import Sharing
import Testing
import Wayland

/// A real guest proxy on the same loop as an `InProcessHost`, joined to it
/// by a socket pair, and raw Wayland clients on its socket: one test goes
/// client -> guest proxy -> host proxy -> scripted compositor in-process.
final class InProcessGuest {
    let h: InProcessHost
    let guest: GuestProxy
    let socketPath: String
    private var clients: [WaylandTestClient] = []

    /// Where buffer producers connect (`--buffers-socket`).
    let producerSocketPath: String
    /// Where buffer consumers in the guest connect (`--buffers-consumer-socket`).
    let consumerSocketPath: String

    /// `mapRegion`: the guest maps the host's region file (the host must
    /// have one). `producers`, `consumers`: the guest serves buffer
    /// producers, consumers. `label` keeps the sockets of several guests of
    /// one host apart.
    /// `commonRegion`: the path of a sharing region of several guests it maps.
    /// `copyThread`: large syncs run on the proxy's copy thread.
    /// `bulkLane`: the guest opens the bulk lane its host offers, over a
    /// socket pair of its own that the host serves like the link's.
    init(host h: InProcessHost, mapRegion: Bool = false, producers: Bool = false, consumers: Bool = false, label: String = "guest",
         commonRegion: String? = nil, copyThread: Bool = true, bulkLane: Bool = false) throws {
        self.h = h
        socketPath = h.directory + "/\(label)-wayland"
        producerSocketPath = h.directory + "/\(label)-producers"
        consumerSocketPath = h.directory + "/\(label)-consumers"
        let region = mapRegion ? try SharedRegion.guest(path: try #require(h.region).path) : nil
        guest = GuestProxy(loop: h.loop, socketPath: socketPath, region: region)
        guest.copyThread = copyThread
        if bulkLane {
            guest.laneDialer = { [unowned h] () throws(SystemError) -> OwnedFD in
                let (hostEnd, guestEnd) = try Socket.pair()
                h.host.serve(link: hostEnd, from: "the in-process guest's bulk lane")
                return guestEnd
            }
        }
        if producers { guest.bufferSocketPath = producerSocketPath }
        if consumers { guest.consumerSocketPath = consumerSocketPath }
        if let commonRegion { guest.commonRegion = try SharedRegion.guest(path: commonRegion) }
        var ready = false
        guest.onReady = { ready = true }
        let (hostEnd, guestEnd) = try Socket.pair()
        h.host.serve(link: hostEnd, from: "the in-process guest proxy")
        try guest.serve(link: guestEnd, name: "link to the in-process host")
        try #require(h.pump { ready }, "the guest proxy did not come up")
    }

    /// A new raw client of the guest proxy.
    func connectClient() throws -> WaylandTestClient {
        let c = try WaylandTestClient(path: socketPath, loop: h.loop)
        clients.append(c)
        return c
    }

    /// A new raw buffer consumer on the guest proxy's consumer socket.
    func connectConsumer() throws -> WaylandTestClient {
        let c = try WaylandTestClient(path: consumerSocketPath, loop: h.loop)
        clients.append(c)
        return c
    }

    /// A new raw buffer producer on the guest proxy's producer socket.
    func connectProducer() throws -> WaylandTestClient {
        let c = try WaylandTestClient(path: producerSocketPath, loop: h.loop)
        clients.append(c)
        return c
    }

    func tearDown() {
        shutDown()
        h.tearDown()
    }

    /// Closes this guest's clients and its proxy (its link ends), leaving the host up.
    func shutDown() {
        for c in clients { c.close() }
        guest.shutdown()
    }
}

/// A deliberately dumb Wayland client on the test's loop: it writes whatever
/// bytes and fds it is told to and records what comes back.
final class WaylandTestClient {
    let socket: OwnedFD
    private let loop: EventLoop
    private var token: EventLoop.Token?
    private let input = ReadBuffer()
    private(set) var messages: [WaylandMessage] = []
    /// Every fd received, in order.
    private(set) var fds: [OwnedFD] = []
    private(set) var sawEOF = false

    convenience init(path: String, loop: EventLoop) throws {
        try self.init(socket: try Socket.connect(.unix(path: path)), loop: loop)
    }

    /// A client on a connected socket (a socket pair's end).
    init(socket: OwnedFD, loop: EventLoop) throws {
        self.loop = loop
        self.socket = socket
        token = try loop.register(socket.rawValue, events: .readable) { [unowned self] _ in self.readable() }
    }

    func send(_ bytes: [UInt8], fds: [OwnedFD] = []) {
        var offset = 0
        while offset < bytes.count {
            let n = (try? bytes.withUnsafeBytes { b in
                try Socket.send(socket, UnsafeRawBufferPointer(rebasing: b[offset...]), fds: offset == 0 ? fds.map(\.rawValue) : [])
            }) ?? -1
            if n < 0 { Issue.record("client send failed"); return }
            if n == 0 { loop.runOnce(timeout: 0.001) }
            offset += n
        }
    }

    func send(_ object: UInt32, _ opcode: UInt16, _ args: [WireArg], fds: [OwnedFD] = []) {
        send(WireCodec.encode(objectID: object, opcode: opcode, args), fds: fds)
    }

    /// The wl_display.error received, if any: (object, code, message).
    var displayError: (object: UInt32, code: UInt32, message: String)? {
        messages.lazy.compactMap { $0.displayError }.first
    }

    /// Registry globals seen on `registry`: interface -> (name, version).
    func globals(registry: UInt32 = 2) -> [String: (name: UInt32, version: UInt32)] {
        var out: [String: (UInt32, UInt32)] = [:]
        for m in messages { if let g = m.global(registry: registry) { out[g.interface] = (g.name, g.version) } }
        return out
    }

    func close() {
        if let t = token { loop.unregister(t) }
        token = nil
        socket.close()
    }

    private func readable() {
        let alive = (try? input.fill(from: socket)) ?? false
        while let h = input.withUnconsumed({ MessageHeader.peek($0) }), h.size >= Wire.headerSize, input.count >= h.size {
            let bytes = input.withUnconsumed { Array($0[0..<h.size]) }
            messages.append(WaylandMessage(objectID: h.objectID, opcode: h.opcode, bytes: bytes))
            input.consume(h.size)
        }
        fds += input.fds
        input.fds.removeAll()
        if !alive {
            sawEOF = true
            close()
        }
    }
}
