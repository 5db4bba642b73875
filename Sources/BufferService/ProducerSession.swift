import PortholeSystem
import Sharing
import Wayland

/// One producer's connection to the buffer service (porthole-buffer-producer-v1):
/// a guest program, reached through its link channel and the host proxy's
/// socket pair. Every request is checked here against the protocol's rules
/// and the guest's quotas; the service does the fan-out.
public final class ProducerSession: ServiceHandler {
    /// The name the host gave the guest (`BufferService.hostName` for a
    /// program of the host).
    public let guest: String
    /// A program of the host, on the host's producer socket: it has no
    /// region and cannot grant (host consumers import its exports).
    let isHost: Bool
    let connection: ServiceConnection
    private unowned let service: BufferService
    /// Bound porthole_buffer_producer_v1 objects.
    private var producers: Set<UInt32> = []
    /// Live buffers by their porthole_buffer_v1 id.
    private(set) var buffers: [UInt32: SharedBuffer] = [:]
    /// Buffer objects a reset made inert; they wait for their destroy.
    private var inert: Set<UInt32> = []
    /// References exported, by their porthole_buffer_reference_v1 id.
    private var references: [UInt32: BufferReference] = [:]
    private var ended = false

    init(guest: String, connection: ServiceConnection, service: BufferService, isHost: Bool = false) {
        self.guest = guest
        self.isHost = isHost
        self.connection = connection
        self.service = service
        connection.handler = self
    }

    /// The producer's channel closed: everything it published is reset
    /// for consumers, now (not when the socket pair's end is next read).
    public func end() {
        connection.close(reason: "the producer's channel closed")
    }

    // MARK: ServiceHandler

    func bound(_ id: UInt32, on c: ServiceConnection) throws(MessageFault) { producers.insert(id) }

    func request(_ r: ServiceRequest, on c: ServiceConnection) throws(MessageFault) {
        let id = r.objectID
        switch r.spec.kind {
        case .portholeBufferProducerV1Register?:
            try register(try r.typed(PortholeBufferProducerV1Register.self), fd: r.fds.first, producer: id)
        case .portholeBufferProducerV1RegisterRegion?:
            try registerRegion(try r.typed(PortholeBufferProducerV1RegisterRegion.self), producer: id)
        case .portholeBufferProducerV1RegisterCommon?:
            try registerCommon(try r.typed(PortholeBufferProducerV1RegisterCommon.self), producer: id)
        case .portholeBufferProducerV1AllocateShared?:
            throw .invalidMethod(id, "allocate_shared reached the host: the guest proxy sends register_common")
        case .portholeBufferProducerV1Allocate? where isHost:
            throw producerFault(id, .noRegion, "the host's producers have no shared region: register a memfd")
        case .portholeBufferProducerV1Allocate?:
            throw .invalidMethod(id, "allocate reached the host: the guest proxy answers it and sends register_region")
        case .portholeBufferProducerV1Reset?:
            reset()
        case .portholeBufferProducerV1Destroy?:
            producers.remove(id)
            reset()
        case .portholeBufferV1Destroy?:
            if inert.remove(id) == nil, let b = buffers.removeValue(forKey: id) { service.remove(b, releaseWaiting: false) }
        case .portholeBufferReferenceV1Revoke?:
            if let ref = references[id] { service.revoke(ref) }
        case .portholeBufferReferenceV1Destroy?:
            if let ref = references.removeValue(forKey: id) { service.forget(ref) }
        case _ where inert.contains(id):
            // After a reset, requests on old buffers mean nothing.
            break
        case .portholeBufferV1SetProperty?:
            try setProperty(try r.typed(PortholeBufferV1SetProperty.self), on: try buffer(id))
        case .portholeBufferV1Publish?:
            let b = try buffer(id)
            guard !b.published else { throw bufferFault(id, .published, "published twice") }
            b.publish()
            service.publish(b)
        case .portholeBufferV1Export?:
            let e = try r.typed(PortholeBufferV1Export.self)
            let b = try publishedBuffer(id, "export")
            try checkRoomForReference(b, id)
            references[e.id] = service.export(b, objectID: e.id, producer: self)
        case .portholeBufferV1Grant?:
            let g = try r.typed(PortholeBufferV1Grant.self)
            let b = try publishedBuffer(id, "grant")
            try checkRoomForReference(b, id)
            guard let grantee = String(validatingUTF8Bytes: g.guest), g.guest.count <= service.limits.maxGuestNameBytes,
                  grantee != guest, !isHost, service.knowsGuest(grantee) else {
                throw bufferFault(id, .unknownGuest, "grant to \(LogText.escaped(String(decoding: g.guest, as: UTF8.self), limit: 64)): " +
                                  (isHost ? "the host's programs export, they do not grant" : "no other guest of this host has that name"))
            }
            references[g.id] = service.export(b, objectID: g.id, producer: self, grantee: grantee)
        case .portholeBufferV1Update?:
            let u = try r.typed(PortholeBufferV1Update.self)
            let b = try publishedBuffer(id, "update")
            guard u.width >= 0, u.height >= 0 else {
                throw bufferFault(id, .badDamage, "damage \(u.width)x\(u.height) has a negative side")
            }
            b.addDamage(x: u.x, y: u.y, width: u.width, height: u.height, limit: service.limits.damageRectsPerPresent)
        case .portholeBufferV1Present?:
            let p = try r.typed(PortholeBufferV1Present.self)
            let b = try publishedBuffer(id, "present")
            if let last = b.lastSequence, p.sequence <= last {
                throw bufferFault(id, .badSequence, "sequence \(p.sequence) after \(last): sequences must increase")
            }
            service.present(b, sequence: p.sequence, damage: b.present(p.sequence), renderUsec: p.renderUsec)
        default:
            throw .invalidMethod(id, "\(r.name) is not a request of the producer protocol")
        }
    }

    func closed(on c: ServiceConnection) {
        guard !ended else { return }
        ended = true
        reset()
        service.producerEnded(self)
    }

    // MARK: Requests

    private func register(_ r: PortholeBufferProducerV1Register, fd: OwnedFD?, producer: UInt32) throws(MessageFault) {
        guard let fd else { throw .implementation("register without its fd") }
        guard r.size > 0 else { throw producerFault(producer, .badRange, "a buffer of 0 bytes") }
        let application = try self.application(r.application, producer: producer)
        let fileSize: Int
        do { fileSize = try fd.fileSize() } catch { throw producerFault(producer, .badFD, "cannot stat the fd: \(error)") }
        let end = UInt64(r.offset) + UInt64(r.size)
        guard end <= UInt64(fileSize) else {
            throw producerFault(producer, .badRange, "buffer \(r.offset)+\(r.size) ends past the file's \(fileSize) bytes")
        }
        try checkQuota(adding: UInt64(fileSize), application: application, producer: producer)
        // Nobody may change what consumers read, or shrink the file under
        // the link's mapping (docs/buffer-sharing.md §3). The link's own
        // mapping predates the seal and keeps writing.
        do { try Memfd.addSeals(fd, [.shrink, .grow, .futureWrite, .seal]) } catch {
            throw producerFault(producer, .badFD, "the fd is not a memory file the host can seal: \(error)")
        }
        let buffer = SharedBuffer(id: service.nextBufferID(), guest: guest, application: application, file: fd, fileSize: UInt64(fileSize),
                                  offset: r.offset, size: r.size, producer: self, objectID: r.id)
        buffers[r.id] = buffer
        service.registered(buffer)
    }

    /// A buffer the guest proxy allocated in the region for this producer
    /// (its `allocate`, rewritten): the registration must be one the guest
    /// made for a producer, unclaimed, holding `size` bytes.
    private func registerRegion(_ r: PortholeBufferProducerV1RegisterRegion, producer: UInt32) throws(MessageFault) {
        guard r.size > 0 else { throw producerFault(producer, .badRange, "a buffer of 0 bytes") }
        guard let range = service.unclaimedRegion(r.registration, of: guest), let file = service.regionFile(of: guest) else {
            throw producerFault(producer, .badRegistration, "registration \(r.registration) is no unclaimed producer registration of guest \(guest)")
        }
        guard UInt64(r.size) <= range.length, range.offset <= UInt64(UInt32.max) else {
            throw producerFault(producer, .badRegistration, "registration \(r.registration) holds \(range.length) bytes, not \(r.size)")
        }
        let application = try self.application(r.application, producer: producer)
        try checkQuota(adding: UInt64(r.size), application: application, producer: producer)
        let buffer = SharedBuffer(id: service.nextBufferID(), guest: guest, application: application, file: file, fileSize: UInt64(r.size),
                                  offset: UInt32(range.offset), size: r.size, producer: self, objectID: r.id, ownsFile: false,
                                  inRegion: true, registration: r.registration)
        service.claim(r.registration, of: guest, by: buffer)
        buffers[r.id] = buffer
        service.registered(buffer)
    }

    /// A buffer in the sharing region this guest maps with others (its
    /// `allocate_shared`, rewritten by its guest proxy with the region's tag).
    private func registerCommon(_ r: PortholeBufferProducerV1RegisterCommon, producer: UInt32) throws(MessageFault) {
        guard r.size > 0 else { throw producerFault(producer, .badRange, "a buffer of 0 bytes") }
        guard !isHost, let common = service.commonRegion(for: guest, tag: r.tag) else {
            throw producerFault(producer, .noRegion, "the host declared no sharing region for guest \(guest) with that tag")
        }
        let application = try self.application(r.application, producer: producer)
        try checkQuota(adding: UInt64(r.size), application: application, producer: producer)
        guard let offset = common.allocate(UInt64(r.size)), offset <= UInt64(UInt32.max) else {
            throw producerFault(producer, .noRegion, "the sharing region is full: \(r.size) bytes asked, \(common.largestFree) free in one piece")
        }
        let buffer = SharedBuffer(id: service.nextBufferID(), guest: guest, application: application, file: common.readOnly,
                                  fileSize: UInt64(r.size), offset: UInt32(offset), size: r.size, producer: self, objectID: r.id,
                                  ownsFile: false, inRegion: true)
        buffer.common = common
        buffers[r.id] = buffer
        service.registered(buffer)
        connection.send(PortholeBufferV1Placed(offset: UInt32(offset)), to: r.id)
    }

    private func application(_ bytes: [UInt8], producer: UInt32) throws(MessageFault) -> String {
        let limits = service.limits
        guard let application = String(validatingUTF8Bytes: bytes), !application.isEmpty,
              bytes.count <= limits.maxApplicationBytes, application != SubscriptionFilter.everyApplication else {
            throw producerFault(producer, .badApplication, "application must be 1 to \(limits.maxApplicationBytes) bytes of UTF-8, not \"*\"")
        }
        return application
    }

    /// The quotas of buffers and bytes of the guest and of `application`
    /// leave room for one more buffer of `bytes`.
    private func checkQuota(adding bytes: UInt64, application: String, producer: UInt32) throws(MessageFault) {
        let limits = service.limits
        let usage = service.usage(of: guest)
        guard usage.buffers < limits.buffersPerGuest else {
            throw producerFault(producer, .quota, "guest \(guest) has \(usage.buffers) buffers, the most the host allows")
        }
        guard usage.bytes + bytes <= limits.bytesPerGuest else {
            throw producerFault(producer, .quota, "guest \(guest) would hold \(usage.bytes + bytes) bytes (limit \(limits.bytesPerGuest))")
        }
        let app = service.usage(of: guest, application: application)
        guard app.buffers.count < limits.buffersPerApplication else {
            throw producerFault(producer, .quota, "application \(application) of guest \(guest) has \(app.buffers.count) buffers, the most the host allows")
        }
        guard app.bytes + bytes <= limits.bytesPerApplication else {
            throw producerFault(producer, .quota,
                                "application \(application) of guest \(guest) would hold \(app.bytes + bytes) bytes (limit \(limits.bytesPerApplication))")
        }
    }

    private func setProperty(_ p: PortholeBufferV1SetProperty, on b: SharedBuffer) throws(MessageFault) {
        let limits = service.limits
        guard !b.published else { throw bufferFault(b.objectID, .published, "set_property after publish") }
        guard BufferProperty.isValidName(p.name, maxBytes: limits.maxPropertyNameBytes) else {
            throw bufferFault(b.objectID, .badProperty, "property names are 1 to \(limits.maxPropertyNameBytes) bytes of a-z, A-Z, 0-9, '_', '-', '.'")
        }
        let name = String(decoding: p.name, as: UTF8.self)
        guard p.value.count <= limits.maxPropertyValueBytes, let value = String(validatingUTF8Bytes: p.value) else {
            throw bufferFault(b.objectID, .badProperty, "the value of \(name) must be at most \(limits.maxPropertyValueBytes) bytes of UTF-8")
        }
        guard !b.hasProperty(name) else { throw bufferFault(b.objectID, .badProperty, "\(name) is set twice") }
        guard b.properties.count < limits.propertiesPerBuffer else {
            throw bufferFault(b.objectID, .badProperty, "more than \(limits.propertiesPerBuffer) properties")
        }
        let app = service.usage(of: guest, application: b.application)
        guard app.properties < limits.propertiesPerApplication else {
            throw bufferFault(b.objectID, .quota, "application \(b.application) of guest \(guest) has \(limits.propertiesPerApplication) properties, the most the host allows")
        }
        b.addProperty(name, value)
        service.propertyAdded(to: b)
    }

    /// Every buffer becomes invalid: waiting presents are released, consumers
    /// hear removed and reset, the objects turn inert.
    private func reset() {
        let old = buffers
        buffers.removeAll()
        inert.formUnion(old.keys)
        service.reset(self, buffers: old.values.sorted { $0.id < $1.id })
    }

    // MARK: Helpers

    private func buffer(_ id: UInt32) throws(MessageFault) -> SharedBuffer {
        guard let b = buffers[id] else { throw .invalidObject("porthole_buffer_v1@\(id) is not a buffer of this producer") }
        return b
    }

    /// A buffer holds at most `referencesPerBuffer` live references (export and grant alike).
    private func checkRoomForReference(_ b: SharedBuffer, _ id: UInt32) throws(MessageFault) {
        guard b.references.count < service.limits.referencesPerBuffer else {
            throw bufferFault(id, .tooManyReferences, "more than \(service.limits.referencesPerBuffer) references to one buffer")
        }
    }

    private func publishedBuffer(_ id: UInt32, _ what: String) throws(MessageFault) -> SharedBuffer {
        let b = try buffer(id)
        guard b.published else { throw bufferFault(id, .notPublished, "\(what) before publish") }
        return b
    }

    private func producerFault(_ object: UInt32, _ code: ProducerErrorCode, _ why: String) -> MessageFault {
        MessageFault(objectID: object, code: code.rawValue, message: why)
    }

    private func bufferFault(_ object: UInt32, _ code: ProducedBufferErrorCode, _ why: String) -> MessageFault {
        MessageFault(objectID: object, code: code.rawValue, message: why)
    }

    /// `b` went away without this producer asking (its registration was
    /// dropped): its object turns inert until destroyed.
    func lose(_ b: SharedBuffer) {
        guard buffers[b.objectID] === b else { return }
        buffers.removeValue(forKey: b.objectID)
        inert.insert(b.objectID)
    }

    /// Tells the producer every consumer released `sequence` of `buffer`.
    func released(_ sequence: UInt32, of buffer: SharedBuffer) {
        connection.send(PortholeBufferV1Released(sequence: sequence), to: buffer.objectID)
    }
}
