import PortholeSystem
import Wayland

/// A consumer (porthole-buffer-consumer-v1) for `porthole buffers` and the
/// tests: one subscription, or one import by a reference's handle; buffers
/// are mapped read-only as they arrive,
/// and what happens is queued as `ConsumerEvent`s. Blocking; one thread.
public final class BufferConsumerClient {
    public private(set) var buffers: [UInt32: ConsumedBuffer] = [:]
    private let client: ServiceClient
    private let timeout: Duration
    private var idOfView: [UInt32: UInt32] = [:]
    private var queue: [ConsumerEvent] = []
    /// An import by handle (`init(socketPath:importing:)`): why it found no
    /// buffer this consumer may have, and whether its reference was revoked
    /// since (the buffer is `removed` too).
    public private(set) var importFailure: String?
    public private(set) var revoked = false

    /// Connects to the consumer socket at `socketPath` (absolute) and
    /// subscribes to `application` ("*": every one) of `guest` (nil: every
    /// guest); what already exists arrives with the first events.
    public init(socketPath: String, application: String, guest: String? = nil, timeout: Duration = .seconds(10)) throws(HarnessError) {
        self.timeout = timeout
        client = try ServiceClient(socketPath: socketPath, interface: "porthole_buffer_consumer_v1", timeout: timeout)
        client.onEvent = { [unowned self] (event: ClientEvent) throws(HarnessError) in try handle(event) }
        let subscription = client.session.newID()
        try client.session.send(client.globalID, "subscribe", [.newID(subscription), .text(application), .text(guest)])
        try client.roundtrip(timeout: timeout)
    }

    /// Connects to the consumer socket at `socketPath` (absolute) and
    /// imports the buffer of the reference whose handle is `handle` (a
    /// guest's consumer: one granted to its guest).
    public init(socketPath: String, importing handle: [UInt8], timeout: Duration = .seconds(10)) throws(HarnessError) {
        self.timeout = timeout
        client = try ServiceClient(socketPath: socketPath, interface: "porthole_buffer_consumer_v1", version: 2, timeout: timeout)
        client.onEvent = { [unowned self] (event: ClientEvent) throws(HarnessError) in try self.handle(event) }
        let id = client.session.newID()
        try client.session.send(client.globalID, "import", [.newID(id), .array(handle)])
        try client.roundtrip(timeout: timeout)
    }

    /// Waits for a roundtrip: everything the host sent before is handled.
    public func roundtrip() throws(HarnessError) { try client.roundtrip(timeout: timeout) }

    /// The events so far, waiting up to `wait` for the first one.
    public func events(waiting wait: Duration) throws(HarnessError) -> [ConsumerEvent] {
        if queue.isEmpty {
            do { try client.session.dispatch(timeout: wait, waitingFor: "buffer events") { !queue.isEmpty } } catch {
                if case .timeout = error { return [] }
                throw error
            }
        } else {
            try client.session.dispatchPending(timeout: timeout)
        }
        defer { queue.removeAll() }
        return queue
    }

    /// The socket, for a caller's own event loop: when it is readable,
    /// `pendingEvents()` reads without blocking.
    public var fileDescriptor: Int32 { client.session.fileDescriptor }

    /// What has arrived, without waiting; throws `disconnected` once the
    /// service has closed the connection and everything it sent is handled.
    public func pendingEvents() throws(HarnessError) -> [ConsumerEvent] {
        try client.session.dispatchPending(timeout: timeout)
        defer { queue.removeAll() }
        if queue.isEmpty && client.session.serverClosed {
            throw .disconnected("the buffer service closed the connection")
        }
        return queue
    }

    /// Done with `sequence` (and every earlier update) of buffer `id`.
    public func release(_ id: UInt32, sequence: UInt32) throws(HarnessError) {
        guard let b = buffers[id], !b.removed else { return }
        try client.session.send(b.viewID, "release", [.uint(sequence)])
        try client.session.dispatchPending(timeout: timeout)
    }

    public func close() { client.session.close() }

    private func handle(_ e: ClientEvent) throws(HarnessError) {
        switch (e.interface.name, e.spec.name) {
        case ("porthole_buffer_subscription_v1", "buffer_added"), ("porthole_buffer_import_v1", "buffer_added"):
            // The import's event has the subscription's arguments.
            guard let a = PortholeBufferSubscriptionV1BufferAdded(e.args), let fd = e.fds.first else {
                throw .protocolViolation("buffer_added without its arguments or fd")
            }
            let mapping = try system("map buffer \(a.id)") { () throws(SystemError) in
                try SharedMapping(fd: fd, size: Int(a.offset) + Int(a.size), writable: false)
            }
            buffers[a.id] = ConsumedBuffer(id: a.id, guest: String(decoding: a.guest, as: UTF8.self),
                                           application: String(decoding: a.application, as: UTF8.self),
                                           offset: Int(a.offset), size: Int(a.size), viewID: a.buffer, mapping: mapping)
            idOfView[a.buffer] = a.id
        case ("porthole_buffer_import_v1", "failed"):
            importFailure = PortholeBufferImportV1Failed(e.args).map { String(decoding: $0.reason, as: UTF8.self) } ?? "failed"
        case ("porthole_buffer_import_v1", "revoked"):
            revoked = true
        case ("porthole_buffer_subscription_v1", "reset"):
            if let r = PortholeBufferSubscriptionV1Reset(e.args) { queue.append(.reset(guest: String(decoding: r.guest, as: UTF8.self), generation: r.generation)) }
        case ("porthole_buffer_subscription_v1", "guest_connected"):
            if let g = PortholeBufferSubscriptionV1GuestConnected(e.args) { queue.append(.guestConnected(String(decoding: g.guest, as: UTF8.self))) }
        case ("porthole_buffer_subscription_v1", "guest_disconnected"):
            if let g = PortholeBufferSubscriptionV1GuestDisconnected(e.args) { queue.append(.guestDisconnected(String(decoding: g.guest, as: UTF8.self))) }
        case ("porthole_buffer_view_v1", _):
            guard let id = idOfView[e.objectID] else { return }
            switch e.spec.name {
            case "property":
                if let p = PortholeBufferViewV1Property(e.args) {
                    buffers[id]?.properties.append((String(decoding: p.name, as: UTF8.self), String(decoding: p.value, as: UTF8.self)))
                }
            case "done":
                buffers[id]?.complete = true
                queue.append(.added(id: id))
            case "updated":
                if let u = PortholeBufferViewV1Updated(e.args) {
                    let damage = u.damage.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
                    queue.append(.updated(id: id, sequence: u.sequence, damage: damage, renderUsec: u.renderUsec))
                }
            case "removed":
                buffers[id]?.removed = true
                queue.append(.removed(id: id))
                try client.session.send(e.objectID, "destroy")
            default:
                break
            }
        default:
            break
        }
    }
}
