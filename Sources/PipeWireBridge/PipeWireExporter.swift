import CLibPipeWire
import Glibc
import Harness
import PortholeSystem

/// The PipeWire bridge (docs/buffer-sharing.md, "PipeWire"): a consumer of
/// the host's buffer service that shows every buffer of one application
/// (of one guest, or of all) as a PipeWire `Video/Source` node, and copies
/// each update into the node's next buffer with its sequence, time and
/// damage. One thread: the service's socket and PipeWire's loop fd are
/// both watched by one `EventLoop`.
///
/// A node outlives its buffer: when the buffer is removed (or its producer
/// resets) the node stays, idle, with its format, and the next buffer of
/// the same guest and application takes it over (a restarted producer
/// keeps its node, so PipeWire clients linked to it stay linked),
/// renegotiating if the format differs. Nodes go away when their guest
/// disconnects or the bridge stops.
public final class PipeWireExporter {
    public struct Options: Sendable {
        /// The consumer socket of porthole host (absolute path).
        public var socketPath: String
        public var application: String
        public var guest: String?
        /// The PipeWire daemon (nil: the default one).
        public var remote: String?
        /// Most nodes at once: each holds PipeWire buffers in the daemon
        /// and the consumers, and a guest decides how many buffers it has.
        public var maxNodes = 16

        public init(socketPath: String, application: String, guest: String? = nil, remote: String? = nil) {
            self.socketPath = socketPath
            self.application = application
            self.guest = guest
            self.remote = remote
        }
    }

    /// Damage regions asked for in each PipeWire buffer (the service's own
    /// limit of rectangles per present, docs/buffer-sharing.md §4).
    static let maxDamage = 64

    public private(set) var counters = ExportCounters()
    private let options: Options
    private let report: (String) -> Void
    private let pipewire: PipeWireContext
    private let consumer: BufferConsumerClient
    private var nodes: [ExportedNode] = []
    private var failure: BridgeError?
    private var loop: EventLoop?

    /// Connects to PipeWire and to the buffer service and subscribes.
    /// `report` gets a line for each node made, taken over, streaming or
    /// removed.
    public init(options: Options, report: @escaping (String) -> Void) throws(BridgeError) {
        self.options = options
        self.report = report
        pipewire = try PipeWireContext(remote: options.remote)
        do {
            consumer = try BufferConsumerClient(socketPath: options.socketPath, application: options.application, guest: options.guest)
        } catch {
            throw .bufferService("cannot subscribe at \(options.socketPath): \(error)")
        }
    }

    /// Runs until SIGINT or SIGTERM (or `stop()`), or until the buffer
    /// service or PipeWire goes away (thrown).
    public func run() throws(BridgeError) {
        let loop: EventLoop
        do {
            loop = try EventLoop()
            _ = try loop.register(consumer.fileDescriptor, events: .readable) { [unowned self] _ in serviceReadable() }
            _ = try loop.register(pipewire.fileDescriptor, events: .readable) { [unowned self] _ in pipewireReadable() }
            try loop.onSignals([SIGINT, SIGTERM]) { _ in loop.stop() }
        } catch {
            throw .pipewire("cannot set up the event loop: \(error)")
        }
        self.loop = loop
        // What arrived with the subscription is already queued.
        serviceReadable()
        if failure == nil { loop.run() }
        self.loop = nil
        for n in nodes { remove(n, why: "the bridge stops") }
        consumer.close()
        if let failure { throw failure }
    }

    /// Makes `run()` return (from a handler on its loop).
    public func stop() { loop?.stop() }

    /// A name from the service (an application is the guest's) as a log may show it.
    static func text(_ name: String) -> String { LogText.escaped(name, limit: 64, quoted: false) }

    private func fail(_ error: BridgeError) {
        failure = error
        loop?.stop()
    }

    // MARK: The buffer service

    private func serviceReadable() {
        let events: [ConsumerEvent]
        do { events = try consumer.pendingEvents() } catch {
            return fail(.bufferService("the host's buffer service: \(error)"))
        }
        for event in events {
            switch event {
            case .added(let id): added(id)
            case .updated(let id, let sequence, let damage, _): updated(id, sequence: sequence, damage: damage)
            case .removed(let id): removed(id)
            case .reset(let guest, let generation): report("guest \(Self.text(guest)) reset (generation \(generation))")
            case .guestConnected(let guest): report("guest \(Self.text(guest)) connected")
            case .guestDisconnected(let guest):
                report("guest \(Self.text(guest)) disconnected")
                for n in nodes where n.guest == guest { remove(n, why: "its guest disconnected") }
            }
        }
        // Node creation and frames queued work for PipeWire's loop.
        pipewireReadable()
    }

    private func added(_ id: UInt32) {
        guard let b = consumer.buffers[id] else { return }
        let format: SourceFormat
        switch SourceFormat.from(properties: b.properties, size: b.size) {
        case .success(let f): format = f
        case .failure(let why):
            counters.buffersRefused += 1
            report("buffer \(id) of \(Self.text(b.guest))/\(Self.text(b.application)) left out: \(why)")
            return
        }
        if let idle = nodes.first(where: { $0.bufferID == nil && $0.guest == b.guest && $0.application == b.application }) {
            idle.bufferID = id
            idle.node.showBuffer(id)
            switch FormatDecision.decide(offered: idle.node.offered, next: format) {
            case .keep:
                report("node \(idle.node.name) takes buffer \(id) (\(format))")
            case .renegotiate(let next):
                do { try idle.node.offer(next, maxDamage: Self.maxDamage) } catch {
                    report("node \(idle.node.name): \(error)")
                    remove(idle, why: "it could not renegotiate")
                    return
                }
                counters.renegotiations += 1
                report("node \(idle.node.name) takes buffer \(id): renegotiating \(format)")
            }
            return
        }
        // At the limit, an idle node (of another guest or application) makes room.
        if nodes.count >= options.maxNodes, let idle = nodes.first(where: { $0.bufferID == nil }) {
            remove(idle, why: "room for a buffer of \(NodeName.word(b.guest))/\(NodeName.word(b.application))")
        }
        guard nodes.count < options.maxNodes else {
            counters.buffersRefused += 1
            report("buffer \(id) of \(Self.text(b.guest))/\(Self.text(b.application)) left out: \(options.maxNodes) nodes already")
            return
        }
        // Names are unique even where two applications map to one word.
        let name = (1...).lazy.map { NodeName.make(guest: b.guest, application: b.application, index: $0) }
            .first { name in !nodes.contains { $0.node.name == name } }!
        let properties = [
            ("media.class", "Video/Source"),
            ("media.type", "Video"),
            ("media.category", "Capture"),
            ("node.name", name),
            ("node.description", "Porthole: \(NodeName.word(b.application)) of guest \(NodeName.word(b.guest))"),
            ("porthole.guest", NodeName.word(b.guest)),
            ("porthole.application", NodeName.word(b.application)),
            ("porthole.buffer", "\(id)"),
        ]
        do {
            let node = try VideoSourceNode(core: pipewire.core, name: name, properties: properties, format: format, maxDamage: Self.maxDamage)
            nodes.append(ExportedNode(node: node, guest: b.guest, application: b.application, bufferID: id))
            counters.nodesCreated += 1
            report("node \(name) made for buffer \(id) (\(format))")
        } catch {
            counters.buffersRefused += 1
            report("buffer \(id): \(error)")
        }
    }

    private func updated(_ id: UInt32, sequence: UInt32, damage: [Int32]) {
        counters.updates += 1
        if let n = nodes.first(where: { $0.bufferID == id }), let b = consumer.buffers[id], let base = b.bytes.baseAddress {
            switch n.node.push(base, sequence: sequence, damage: damage, time: MonotonicClock.nanoseconds()) {
            case .queued: counters.framesQueued += 1
            case .notStreaming: counters.notStreaming += 1
            case .noBuffer: counters.noBuffer += 1
            }
        }
        // Copied (or dropped): never held, so never a reason for eviction.
        do { try consumer.release(id, sequence: sequence) } catch {
            fail(.bufferService("releasing buffer \(id) sequence \(sequence): \(error)"))
        }
    }

    private func removed(_ id: UInt32) {
        guard let n = nodes.first(where: { $0.bufferID == id }) else { return }
        n.bufferID = nil
        report("node \(n.node.name) idle: buffer \(id) removed")
    }

    private func remove(_ n: ExportedNode, why: String) {
        n.node.destroy()
        nodes.removeAll { $0 === n }
        counters.nodesDestroyed += 1
        report("node \(n.node.name) removed: \(why)")
    }

    // MARK: PipeWire

    private func pipewireReadable() {
        pipewire.iterate()
        if let why = pipewire.failure { return fail(.pipewire(why)) }
        for n in nodes where n.node.state != n.reportedState {
            n.reportedState = n.node.state
            let state = String(cString: pw_stream_state_as_string(n.node.state))
            if n.node.state == PW_STREAM_STATE_ERROR {
                report("node \(n.node.name): \(n.node.lastError ?? "error")")
            } else {
                let id = n.node.nodeID
                report("node \(n.node.name)\(id == UInt32.max ? "" : " (id \(id))") \(state)")
            }
        }
    }
}
