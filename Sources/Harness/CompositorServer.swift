import Glibc
import PortholeSystem
import Wayland

/// The recording compositor's event loop and its clients. It lives entirely
/// on the compositor's background thread; only `log` is shared.
final class CompositorServer {
    /// One advertised global: its numeric name, interface and version.
    typealias Global = (name: UInt32, interface: String, version: UInt32)

    /// The recording compositor's globals.
    static let basicGlobals: [Global] = [
        (1, "wl_compositor", 4),
        (2, "wl_shm", 1),
        (3, "xdg_wm_base", 1),
    ]

    /// The sink compositor's globals: the basic ones plus one wl_output.
    static let sinkGlobals: [Global] = basicGlobals + [(4, "wl_output", 3)]

    /// The globals advertised to every client.
    let globals: [Global]
    /// When set, called for each commit that has a buffer attached, while the
    /// buffer is mapped and before it is released; nothing is recorded in `log`.
    let inspector: FrameInspector?
    /// When set instead, commits are handed over like this and released when their ticket is finished.
    let deferredInspector: DeferredFrameInspector?
    let completions: FrameCompletions?
    /// Inspections handed out and not yet finished, by ticket token.
    var pendingInspections: [Int: (client: CompositorClient, bufferID: UInt32, buffer: ShmBufferState, callbacks: [UInt32])] = [:]
    private var nextToken = 0
    /// Buffer commits seen per (client number, surface id), for `SinkFrame.index`.
    var bufferCommits: [Int: [UInt32: Int]] = [:]

    let loop: EventLoop
    let log: CommitLog
    /// Nanoseconds between frame-callback ticks; 0 fires them at commit.
    let frameInterval: UInt64
    /// When committed buffers are released.
    let bufferRelease: BufferRelease
    private let listener: OwnedFD
    private var clients: [Int: CompositorClient] = [:]
    private var clientCount = 0
    private var serial: UInt32 = 0

    /// Sets up the loop: accepting on `listener`, stopping when `wake`
    /// becomes readable, and the frame timer.
    init(listener: OwnedFD, wake: OwnedFD, log: CommitLog, frameInterval: UInt64, bufferRelease: BufferRelease,
         globals: [Global] = CompositorServer.basicGlobals, inspector: FrameInspector? = nil,
         deferredInspector: DeferredFrameInspector? = nil) throws(SystemError) {
        loop = try EventLoop()
        self.listener = listener
        self.log = log
        self.globals = globals
        self.inspector = inspector
        self.deferredInspector = deferredInspector
        completions = deferredInspector == nil ? nil : try FrameCompletions()
        self.frameInterval = frameInterval
        self.bufferRelease = frameInterval == 0 ? .afterCopy : bufferRelease
        _ = try loop.register(listener.rawValue, events: .readable) { [unowned self] _ in self.acceptAll() }
        _ = try loop.register(wake.rawValue, events: .readable) { [unowned self] _ in self.loop.stop() }
        if let completions {
            _ = try loop.register(completions.reader.rawValue, events: .readable) { [unowned self] _ in self.completeInspections() }
        }
        if frameInterval > 0 {
            try loop.addTimer(nanoseconds: frameInterval) { [unowned self] in self.tick() }
        }
    }

    /// Serves until the wake descriptor fires, then disconnects every client.
    func run() {
        loop.run()
        for client in Array(clients.values) { client.disconnect() }
    }

    /// The next event serial.
    func nextSerial() -> UInt32 {
        serial &+= 1
        return serial
    }

    /// Milliseconds on the monotonic clock, as frame callbacks report time.
    var timestamp: UInt32 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt32(truncatingIfNeeded: ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000)
    }

    /// A ticket for an inspection of `buffer`, which holds it and `callbacks` until finished.
    func ticket(client: CompositorClient, bufferID: UInt32, buffer: ShmBufferState, callbacks: [UInt32]) -> SinkFrameTicket {
        nextToken += 1
        pendingInspections[nextToken] = (client, bufferID, buffer, callbacks)
        return SinkFrameTicket(completions: completions!, token: nextToken, memory: buffer.pool)
    }

    /// Releases the buffers of finished inspections and fires their frame callbacks.
    private func completeInspections() {
        guard let completions else { return }
        var touched: [Int: CompositorClient] = [:]
        for token in completions.take() {
            guard let p = pendingInspections.removeValue(forKey: token), !p.client.closed else { continue }
            p.client.release(p.bufferID, p.buffer)
            p.client.dueFrameCallbacks += p.callbacks
            p.client.fireDueFrameCallbacks()
            touched[p.client.number] = p.client
        }
        for c in touched.values { c.flushOrWatch() }
    }

    /// Forgets a disconnected client.
    func remove(_ client: CompositorClient) {
        clients.removeValue(forKey: client.number)
        bufferCommits.removeValue(forKey: client.number)
    }

    private func acceptAll() {
        while true {
            let accepted: OwnedFD?
            do { accepted = try Socket.accept(listener) } catch {
                log.noteError("accept failed: \(error)")
                return
            }
            guard let fd = accepted else { return }
            clientCount += 1
            let client = CompositorClient(number: clientCount, socket: fd, server: self)
            do {
                client.token = try loop.register(fd.rawValue, events: .readable) { events in client.handle(events) }
                clients[client.number] = client
            } catch {
                log.noteError("cannot watch client \(client.number): \(error)")
            }
        }
    }

    private func tick() {
        for client in Array(clients.values) {
            client.releaseDueBuffers()
            client.fireDueFrameCallbacks()
            client.flushOrWatch()
        }
    }
}
