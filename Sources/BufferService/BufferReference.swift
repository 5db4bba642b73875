import PortholeSystem

/// A reference a producer exported for one of its buffers (seed 004's
/// grant reference): a handle of 16 random bytes standing for the buffer,
/// which any consumer that is given it can import, and the importers that
/// hold a view through it. Revoked by its exporter, or when the buffer goes
/// (destroy, reset, its registration dropped, the guest gone); its exporter
/// hears `released` once every importer let go after that.
final class BufferReference {
    let handle: [UInt8]
    /// The producer's porthole_buffer_reference_v1.
    let objectID: UInt32
    private(set) weak var buffer: SharedBuffer?
    private(set) weak var producer: ProducerSession?
    /// No more imports; importers were told.
    var revoked = false
    /// The exporter was told `released` (or forgot the reference): nothing more is said.
    var finished = false
    /// Views made through this reference and not yet let go.
    var importers: Set<ObjectIdentifier> = []
    /// A grant: only consumers of this guest may import (nil: an export,
    /// which any consumer of the host given the handle may import).
    let grantee: String?

    /// Bytes of a handle (128 random bits).
    static let handleBytes = 16

    init(objectID: UInt32, buffer: SharedBuffer, producer: ProducerSession?, grantee: String? = nil) {
        self.grantee = grantee
        handle = RandomBytes.make(Self.handleBytes)
        self.objectID = objectID
        self.buffer = buffer
        self.producer = producer
    }
}
