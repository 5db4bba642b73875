import PortholeSystem

/// One buffer a producer registered: the host's copy of its memory (the
/// memfd the link writes into, sealed so nobody else can write it), where
/// the buffer lies in that file, its properties, the views consumers have
/// of it, and the presents not every view has released yet. Or a buffer in
/// the guest's shared region, opened read-only as its file: a producer's
/// (allocated there, zero copy) or one the guest proxy registered for a
/// wl_buffer (application "wayland-proxy", no producer).
final class SharedBuffer {
    /// Service-wide, never reused (consumers see it in buffer_added).
    let id: UInt32
    let guest: String
    let application: String
    /// The host's copy: `offset + size` bytes or more, sealed (or the
    /// shared region, read-only).
    let file: OwnedFD
    /// The file is this buffer's alone (closed with it), not a guest's region.
    let ownsFile: Bool
    /// The file is the guest's shared region: consumers not trusted with
    /// that region get `copy` instead.
    let inRegion: Bool
    /// Counted against the guest's quotas (a producer's buffer).
    let counted: Bool
    /// The bytes counted against the guest: the file's size for a memfd,
    /// the buffer's size (what a copy may take) in the region.
    let fileSize: UInt64
    /// The link registration the buffer lies in (a producer's region buffer).
    let registration: UInt32?
    /// The sharing region of several guests the buffer lies in (its
    /// `file`), whose guests' consumers read it in place.
    var common: CommonRegion?
    /// A region buffer's copy for consumers not trusted with the region,
    /// made for the first of them.
    var copy: RegionCopy?
    let offset: UInt32
    let size: UInt32
    /// Nil for a buffer of the shared region.
    private(set) weak var producer: ProducerSession?
    /// The producer's porthole_buffer_v1 (the registry's id for a region buffer).
    let objectID: UInt32
    private(set) var properties: [(name: String, value: String)] = []
    private(set) var published = false
    private(set) var lastSequence: UInt32?
    /// Damage reported since the last present.
    private(set) var damage = PendingDamage()
    /// Each consumer's view, by consumer.
    var views: [ObjectIdentifier: ConsumerView] = [:]
    /// Presents in order, each with the views that still hold it.
    var waiting: [WaitingPresent] = []
    /// References exported and not revoked.
    var references: [BufferReference] = []

    init(id: UInt32, guest: String, application: String, file: OwnedFD, fileSize: UInt64, offset: UInt32, size: UInt32,
         producer: ProducerSession?, objectID: UInt32, ownsFile: Bool = true, inRegion: Bool = false, counted: Bool = true,
         registration: UInt32? = nil) {
        self.id = id
        self.guest = guest
        self.application = application
        self.file = file
        self.fileSize = fileSize
        self.offset = offset
        self.size = size
        self.producer = producer
        self.objectID = objectID
        self.ownsFile = ownsFile
        self.inRegion = inRegion
        self.counted = counted
        self.registration = registration
    }

    /// The picture the properties describe, if they fit the buffer.
    var image: BufferImage? { BufferImage(properties: properties, size: Int(size)) }

    func hasProperty(_ name: String) -> Bool { properties.contains { $0.name == name } }
    func addProperty(_ name: String, _ value: String) { properties.append((name, value)) }
    func publish() { published = true }

    /// Records a present: its damage is taken.
    func present(_ sequence: UInt32) -> PendingDamage {
        lastSequence = sequence
        defer { damage = PendingDamage() }
        return damage
    }

    /// Records a present whose damage came with it (a Wayland commit).
    func recordPresent(_ sequence: UInt32) { lastSequence = sequence }

    func addDamage(x: Int32, y: Int32, width: Int32, height: Int32, limit: Int) {
        damage.add(x: x, y: y, width: width, height: height, limit: limit)
    }

    /// `view` no longer holds any present up to `sequence` (all, when nil).
    /// Returns the sequences every view has now released, in order; they
    /// leave `waiting`.
    func drop(_ view: ConsumerView, upTo sequence: UInt32? = nil) -> [UInt32] {
        let key = ObjectIdentifier(view)
        for i in waiting.indices where sequence.map({ waiting[i].sequence <= $0 }) ?? true {
            waiting[i].holders.remove(key)
        }
        var done: [UInt32] = []
        while let first = waiting.first, first.holders.isEmpty {
            done.append(first.sequence)
            waiting.removeFirst()
        }
        return done
    }
}
