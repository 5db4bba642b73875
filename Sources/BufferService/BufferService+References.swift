import PortholeSystem
import Wayland

/// References (seed 004): a producer exports a buffer as a handle; any
/// consumer given the handle imports the buffer without subscribing; the
/// exporter revokes the reference and hears `released` once every importer
/// let go. A buffer that goes away revokes its references.
extension BufferService {
    /// Makes a reference to `b` for the producer's object `objectID` and
    /// tells the producer its handle; with `grantee`, a grant that only
    /// consumers of that guest may import.
    func export(_ b: SharedBuffer, objectID: UInt32, producer: ProducerSession, grantee: String? = nil) -> BufferReference {
        let r = BufferReference(objectID: objectID, buffer: b, producer: producer, grantee: grantee)
        if let grantee { Log.info("buffer service: guest \(b.guest) grants buffer \(b.id) (\(b.application)) to guest \(grantee)") }
        references[r.handle] = r
        b.references.append(r)
        counters.references = references.count
        producer.connection.send(PortholeBufferReferenceV1Handle(handle: r.handle), to: objectID)
        return r
    }

    /// The live (not revoked) reference with this handle that `c` may
    /// import: a grant only by consumers of its guest; an export by the
    /// host's consumers, and by a guest's only for a buffer that guest may
    /// see anyway (`ConsumerSession.maySee`).
    func reference(handle: [UInt8], for c: ConsumerSession) -> BufferReference? {
        guard handle.count == BufferReference.handleBytes, let r = references[handle], let b = r.buffer else { return nil }
        if let grantee = r.grantee { return c.guest == grantee ? r : nil }
        return c.guest == nil || c.maySee(b) ? r : nil
    }

    /// A consumer imported through `r`: the exporter hears how many hold it.
    func imported(_ view: ConsumerView, through r: BufferReference) {
        r.importers.insert(ObjectIdentifier(view))
        tellImporters(r)
    }

    /// An importer let go (destroyed its view, disconnected, was evicted).
    func importEnded(_ view: ConsumerView, of r: BufferReference) {
        guard r.importers.remove(ObjectIdentifier(view)) != nil else { return }
        tellImporters(r)
        finishIfReleased(r)
    }

    /// No more imports through `r`; its importers' views are removed (their
    /// pending updates count as released) and their imports hear revoked.
    func revoke(_ r: BufferReference) {
        guard !r.revoked else { return }
        r.revoked = true
        references.removeValue(forKey: r.handle)
        counters.references = references.count
        if let b = r.buffer {
            b.references.removeAll { $0 === r }
            for view in Array(b.views.values) where view.reference === r {
                b.views.removeValue(forKey: ObjectIdentifier(view.consumer))
                for s in b.drop(view) { b.producer?.released(s, of: b) }
                view.consumer.removed(view)
            }
        }
        finishIfReleased(r)
    }

    /// The exporter destroyed `r`: revoked, and it hears nothing more.
    func forget(_ r: BufferReference) {
        r.finished = true
        revoke(r)
    }

    private func tellImporters(_ r: BufferReference) {
        guard !r.finished else { return }
        r.producer?.connection.send(PortholeBufferReferenceV1Imported(importers: UInt32(r.importers.count)), to: r.objectID)
    }

    /// Once revoked and let go by every importer: `released`, once.
    private func finishIfReleased(_ r: BufferReference) {
        guard r.revoked, !r.finished, r.importers.isEmpty else { return }
        r.finished = true
        r.producer?.connection.send(PortholeBufferReferenceV1Released(), to: r.objectID)
    }
}
