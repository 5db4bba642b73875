import PortholeSystem
import Sharing
import Wayland

/// One consumer's connection (porthole-buffer-consumer-v1): a program on
/// the host, trusted as far as the socket's permissions go, but checked so
/// that a broken one harms nobody else: its subscriptions, its views and
/// the updates it has not released.
final class ConsumerSession: ServiceHandler {
    let connection: ServiceConnection
    private unowned let service: BufferService
    /// Bound porthole_buffer_consumer_v1 objects.
    private(set) var consumerObjects: Set<UInt32> = []
    private(set) var subscriptions: [UInt32: SubscriptionFilter] = [:]
    /// Views by object id, and by buffer.
    private var views: [UInt32: ConsumerView] = [:]
    private(set) var viewsByBuffer: [UInt32: ConsumerView] = [:]
    /// Updates sent and not released, over every view.
    private(set) var pendingCount = 0
    /// Region buffers reach this consumer as the region itself (see
    /// `BufferService.regionConsumers`); otherwise as copies.
    let trustedWithRegions: Bool
    /// The guest this consumer is in (reached through its link), or nil for
    /// a program of the host. A guest's consumer sees buffers granted to its
    /// guest and what `BufferService.guestAccess` allows it of the host's
    /// own, and hears of no other guest.
    let guest: String?
    /// Bytes of the buffer files this (guest) consumer holds views of, by view.
    private var viewBytes: [UInt32: UInt64] = [:]

    init(connection: ServiceConnection, service: BufferService, trustedWithRegions: Bool, guest: String? = nil) {
        self.connection = connection
        self.service = service
        self.trustedWithRegions = trustedWithRegions
        self.guest = guest
        connection.handler = self
    }

    var isClosed: Bool { connection.closed }

    /// Whether a subscription of this consumer may show it `b`: everything
    /// for the host's programs; for a guest's, only the host's own buffers
    /// of applications the host lets that guest see.
    func maySee(_ b: SharedBuffer) -> Bool {
        guard let guest else { return true }
        return b.producer?.isHost == true && service.guestAccess.contains { $0.allows(application: b.application, to: guest) }
    }

    /// Whether this consumer hears guest `name` come, go and reset: a
    /// guest's consumer hears only of the host's own programs.
    func mayHear(of name: String) -> Bool { guest == nil || name == BufferService.hostName }

    /// Bytes of buffer files held for views by this consumer.
    var heldViewBytes: UInt64 { viewBytes.values.reduce(0, +) }

    // MARK: ServiceHandler

    func bound(_ id: UInt32, on c: ServiceConnection) throws(MessageFault) { consumerObjects.insert(id) }

    func request(_ r: ServiceRequest, on c: ServiceConnection) throws(MessageFault) {
        let id = r.objectID
        switch r.spec.kind {
        case .portholeBufferConsumerV1Subscribe?:
            try subscribe(try r.typed(PortholeBufferConsumerV1Subscribe.self), consumer: id)
        case .portholeBufferConsumerV1Import?:
            importBuffer(try r.typed(PortholeBufferConsumerV1Import.self))
        case .portholeBufferImportV1Destroy?:
            break
        case .portholeBufferConsumerV1Destroy?:
            consumerObjects.remove(id)
        case .portholeBufferSubscriptionV1Destroy?:
            subscriptions.removeValue(forKey: id)
        case .portholeBufferViewV1Release?:
            let sequence = try r.typed(PortholeBufferViewV1Release.self).sequence
            guard let view = views[id] else { throw .invalidObject("porthole_buffer_view_v1@\(id) is not a view of this consumer") }
            try release(sequence, on: view)
        case .portholeBufferViewV1Destroy?:
            guard let view = views.removeValue(forKey: id) else { return }
            forget(view)
        default:
            throw .invalidMethod(id, "\(r.name) is not a request of the consumer protocol")
        }
    }

    func closed(on c: ServiceConnection) {
        for view in Array(views.values) { forget(view) }
        views.removeAll()
        subscriptions.removeAll()
        service.consumerEnded(self)
    }

    // MARK: Requests

    private func subscribe(_ s: PortholeBufferConsumerV1Subscribe, consumer: UInt32) throws(MessageFault) {
        let limits = service.limits
        guard let application = String(validatingUTF8Bytes: s.application), !application.isEmpty,
              s.application.count <= limits.maxApplicationBytes else {
            throw fault(consumer, .badFilter, "application must be 1 to \(limits.maxApplicationBytes) bytes of UTF-8")
        }
        var guest: String?
        if let g = s.guest {
            guard g.count <= limits.maxGuestNameBytes, let text = String(validatingUTF8Bytes: g) else {
                throw fault(consumer, .badFilter, "guest must be at most \(limits.maxGuestNameBytes) bytes of UTF-8")
            }
            guest = text
        }
        guard subscriptions.count < limits.subscriptionsPerConsumer else {
            throw fault(consumer, .tooManySubscriptions, "more than \(limits.subscriptionsPerConsumer) subscriptions")
        }
        let filter = SubscriptionFilter(application: application, guest: guest)
        subscriptions[s.id] = filter
        service.subscribed(self, subscription: s.id, filter: filter)
    }

    private func release(_ sequence: UInt32, on view: ConsumerView) throws(MessageFault) {
        // After removed, a release may cross the event on the wire.
        guard let buffer = view.buffer else { return }
        guard let count = view.release(sequence) else {
            throw MessageFault(objectID: view.objectID, code: ViewErrorCode.badRelease.rawValue,
                               message: "sequence \(sequence) was not sent to this view or is released already")
        }
        pendingCount -= count
        service.released(buffer, by: view, upTo: sequence)
    }

    /// A buffer by reference: a view through the import, or failed.
    private func importBuffer(_ i: PortholeBufferConsumerV1Import) {
        guard let reference = service.reference(handle: i.handle, for: self), let buffer = reference.buffer else {
            // The same answer whether the handle is unknown, revoked or
            // granted to someone else: a guest learns nothing of others'.
            let why = guest == nil ? "no such reference: unknown or revoked" : "no such reference for guest \(guest!): unknown, revoked or not granted to it"
            if let guest { Log.info("buffer service: guest \(guest) tried to import a reference it was not granted (or a stale one)") }
            connection.send(PortholeBufferImportV1Failed(reason: Array(why.utf8)), to: i.id)
            return
        }
        guard viewsByBuffer[buffer.id] == nil else {
            connection.send(PortholeBufferImportV1Failed(reason: Array("this consumer has a view of buffer \(buffer.id) already".utf8)), to: i.id)
            return
        }
        if let refusal = guestQuotaRefusal(for: buffer) {
            connection.send(PortholeBufferImportV1Failed(reason: Array(refusal.utf8)), to: i.id)
            return
        }
        let view = add(buffer, reference: reference, importObject: i.id) { viewID, fd, offset in
            connection.send(PortholeBufferImportV1BufferAdded(buffer: viewID, id: buffer.id, guest: Array(buffer.guest.utf8),
                                                              application: Array(buffer.application.utf8), offset: offset, size: buffer.size),
                            to: i.id, fds: [fd])
        }
        if let view { service.imported(view, through: reference) }
    }

    /// The view is gone (destroyed, or its consumer closed): it holds nothing.
    private func forget(_ view: ConsumerView) {
        pendingCount -= view.clear()
        viewBytes.removeValue(forKey: view.objectID)
        if let buffer = view.buffer {
            viewsByBuffer.removeValue(forKey: buffer.id)
            service.viewEnded(view, of: buffer)
        }
        if let reference = view.reference { service.importEnded(view, of: reference) }
    }

    // MARK: Events

    /// Adds a view of `buffer` through `subscription`, with its fd,
    /// properties and done; nothing if this consumer has one already.
    func add(_ buffer: SharedBuffer, through subscription: UInt32) {
        if let refusal = guestQuotaRefusal(for: buffer) {
            Log.warning("buffer service: \(connection.name) is not shown buffer \(buffer.id): \(refusal)")
            return
        }
        add(buffer) { viewID, fd, offset in
            connection.send(PortholeBufferSubscriptionV1BufferAdded(buffer: viewID, id: buffer.id, guest: Array(buffer.guest.utf8),
                                                                     application: Array(buffer.application.utf8), offset: offset, size: buffer.size),
                            to: subscription, fds: [fd])
        }
    }

    /// Adds a view of `buffer`: `announce` sends the event that makes it
    /// (with its id, fd and offset), then come the properties and done.
    @discardableResult
    private func add(_ buffer: SharedBuffer, reference: BufferReference? = nil, importObject: UInt32? = nil,
                     announce: (UInt32, OwnedFD, UInt32) -> Void) -> ConsumerView? {
        guard !isClosed, viewsByBuffer[buffer.id] == nil else { return nil }
        let fd: OwnedFD
        var offset = buffer.offset
        do {
            // A guest that maps the buffer's sharing region reads it in place.
            let sharer = guest.map { buffer.common?.guests.contains($0) == true } ?? false
            if buffer.inRegion && !trustedWithRegions && !sharer {
                guard let copy = service.copy(of: buffer) else { return nil }
                fd = try copy.file.duplicate()
                offset = 0
            } else {
                fd = try buffer.file.duplicate()
            }
        } catch {
            Log.warning("buffer service: cannot pass buffer \(buffer.id) to \(connection.name): \(error)")
            return nil
        }
        let viewID = connection.newServerID()
        let view = ConsumerView(objectID: viewID, consumer: self, buffer: buffer, reference: reference, importObject: importObject)
        views[viewID] = view
        viewsByBuffer[buffer.id] = view
        buffer.views[ObjectIdentifier(self)] = view
        if guest != nil { viewBytes[viewID] = UInt64(offset) + UInt64(buffer.size) }
        announce(viewID, fd, offset)
        for p in buffer.properties {
            connection.send(PortholeBufferViewV1Property(name: Array(p.name.utf8), value: Array(p.value.utf8)), to: viewID)
        }
        connection.send(PortholeBufferViewV1Done(), to: viewID)
        return view
    }

    /// Tells `view` of a new content; it now holds it until released.
    func updated(_ view: ConsumerView, sequence: UInt32, damage: [UInt8], renderUsec: UInt32, now: UInt64) {
        view.sent(sequence, at: now)
        pendingCount += 1
        connection.send(PortholeBufferViewV1Updated(sequence: sequence, damage: damage, renderUsec: renderUsec), to: view.objectID)
    }

    /// The buffer of `view` is gone, or its reference revoked: it turns
    /// inert and holds nothing; an import hears `revoked`.
    func removed(_ view: ConsumerView) {
        pendingCount -= view.clear()
        viewBytes.removeValue(forKey: view.objectID)
        if let buffer = view.buffer { viewsByBuffer.removeValue(forKey: buffer.id) }
        view.buffer = nil
        if let i = view.importObject { connection.send(PortholeBufferImportV1Revoked(), to: i) }
        connection.send(PortholeBufferViewV1Removed(), to: view.objectID)
    }

    func send<T: TypedMessage>(_ event: T, toSubscription id: UInt32) { connection.send(event, to: id) }

    /// The oldest update this consumer holds, when it was sent.
    var oldestPending: UInt64? { views.values.compactMap(\.oldestSentAt).min() }

    /// Closes the consumer with the too_slow error.
    func evict(_ why: String) {
        let object = consumerObjects.min() ?? Wire.displayID
        let code = object == Wire.displayID ? DisplayErrorCode.implementation.rawValue : ConsumerErrorCode.tooSlow.rawValue
        connection.fail(MessageFault(objectID: object, code: code, message: "evicted: \(why)"))
    }

    /// Why a guest's consumer may not have a view of `buffer` more: the
    /// host proxy keeps a mapping and a mirror of each such view's file.
    private func guestQuotaRefusal(for buffer: SharedBuffer) -> String? {
        guard let guest, viewsByBuffer[buffer.id] == nil else { return nil }
        let limits = service.limits
        guard viewBytes.count < limits.viewsPerGuestConsumer else {
            return "a consumer in a guest holds at most \(limits.viewsPerGuestConsumer) views"
        }
        let held = service.viewBytes(ofGuest: guest)
        let bytes = UInt64(buffer.inRegion ? 0 : buffer.offset) + UInt64(buffer.size)
        guard held + bytes <= limits.viewBytesPerGuest else {
            return "guest \(guest)'s consumers would hold views of \(held + bytes) bytes (limit \(limits.viewBytesPerGuest))"
        }
        return nil
    }

    private func fault(_ object: UInt32, _ code: ConsumerErrorCode, _ why: String) -> MessageFault {
        MessageFault(objectID: object, code: code.rawValue, message: why)
    }
}
