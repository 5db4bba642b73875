/// One consumer's view of one buffer (its porthole_buffer_view_v1): the
/// updates it was sent and has not released. Once the buffer is removed the
/// view stays, inert, until the consumer destroys it.
final class ConsumerView {
    let objectID: UInt32
    unowned let consumer: ConsumerSession
    /// Nil once the buffer was removed.
    weak var buffer: SharedBuffer?
    /// The reference this view was imported through, and the consumer's
    /// porthole_buffer_import_v1 (nil for a view of a subscription).
    private(set) var reference: BufferReference?
    private(set) var importObject: UInt32?
    /// Sequences sent and not released, oldest first, with when they were sent
    /// (monotonic nanoseconds).
    private(set) var pending: [(sequence: UInt32, sentAt: UInt64)] = []

    init(objectID: UInt32, consumer: ConsumerSession, buffer: SharedBuffer, reference: BufferReference? = nil, importObject: UInt32? = nil) {
        self.objectID = objectID
        self.consumer = consumer
        self.buffer = buffer
        self.reference = reference
        self.importObject = importObject
    }

    func sent(_ sequence: UInt32, at now: UInt64) { pending.append((sequence, now)) }

    /// Releases `sequence` and everything before it; false if `sequence` is
    /// not pending here. Returns how many updates were released.
    func release(_ sequence: UInt32) -> Int? {
        guard let i = pending.firstIndex(where: { $0.sequence == sequence }) else { return nil }
        pending.removeFirst(i + 1)
        return i + 1
    }

    /// Forgets every pending update (the buffer went away); returns how many.
    func clear() -> Int {
        defer { pending.removeAll() }
        return pending.count
    }

    /// When the oldest unreleased update was sent.
    var oldestSentAt: UInt64? { pending.first?.sentAt }
}
