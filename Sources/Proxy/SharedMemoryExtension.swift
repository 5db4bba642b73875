import Link
import PortholeSystem
import Sharing
import Wayland

/// The guest proxy's own Wayland global, porthole_shared_memory_v1
/// (protocols/porthole-shared-memory-v1.xml): cooperative clients allocate
/// buffers in the shared region and draw there, so no proxy copies a byte.
///
/// The compositor never hears of these objects, but their ids come from the
/// client's sequence, which the compositor checks (new ids must not skip).
/// So each request that creates one is replaced on the link by a
/// wl_display.sync with the same id: a placeholder the compositor creates
/// and destroys at once. Its `done` and `delete_id` come back and are
/// dropped here; the client's own object lives on in this proxy only.
final class SharedMemoryExtension {
    /// The registry name the global is offered under (compositors count up from 1).
    static let globalName: UInt32 = 0xFFFF_FF01
    static let interface = "porthole_shared_memory_v1"

    /// One allocation: where it is and its registration with the host.
    struct Allocation {
        var offset: UInt64
        var registration: UInt32?
    }

    private unowned let region: GuestRegion
    /// Ids standing for a placeholder callback on the host, until its delete_id.
    private(set) var placeholders: [UInt32: Int] = [:]
    private var allocations: [UInt32: Allocation] = [:]

    init(region: GuestRegion) { self.region = region }

    /// The wl_registry.global event announcing the extension on `registry`.
    static func globalEvent(registry: UInt32) -> [UInt8] {
        WireCodec.encode(objectID: registry, opcode: 0, [.uint(globalName), .text(interface), .uint(1)])
    }

    /// The bytes to send to the host instead of a request creating `id`.
    func placeholder(for id: UInt32) -> [UInt8] {
        placeholders[id, default: 0] += 1
        return WireCodec.encode(objectID: Wire.displayID, opcode: 0, [.newID(id)])
    }

    /// An event from the host for a placeholder: dropped unread.
    func isPlaceholder(_ id: UInt32) -> Bool { placeholders[id] != nil }

    /// A wl_display.delete_id from the host: true if it ends a placeholder (drop it).
    func endsPlaceholder(_ id: UInt32) -> Bool {
        guard let n = placeholders[id] else { return false }
        if n <= 1 { placeholders.removeValue(forKey: id) } else { placeholders[id] = n - 1 }
        return true
    }

    /// Handles allocate: returns the event for the client and the fd it carries.
    func allocate(id: UInt32, width: Int32, height: Int32, stride: Int32, format: UInt32, application: String) -> (event: [UInt8], fds: [OwnedFD]) {
        func failed(_ why: String) -> ([UInt8], [OwnedFD]) {
            Log.info("porthole_shared_memory_v1: allocation refused: \(why)")
            return (WireCodec.encode(objectID: id, opcode: 1, [.text(why)]), [])
        }
        guard region.active else { return failed("no shared region on the current link") }
        guard width > 0, height > 0, stride > 0 else { return failed("invalid size \(width)x\(height), stride \(stride)") }
        if let bpp = bytesPerPixel(shmFormat: format), Int64(stride) < Int64(width) * Int64(bpp) {
            return failed("stride \(stride) is less than width \(width) x \(bpp) bytes")
        }
        let size = UInt64(stride) * UInt64(height)
        guard let offset = region.allocate(size) else {
            return failed("shared region full (\(region.allocator.largestFree) bytes free in one piece, \(size) asked)")
        }
        let fd: OwnedFD
        do { fd = try region.region.fd.duplicate() } catch {
            region.release(offset)
            return failed("cannot pass the region: \(error)")
        }
        let registration = region.register(
            application: application, range: GuestRegion.registrationRange(offset: offset, length: size),
            properties: [("width", "\(width)"), ("height", "\(height)"), ("stride", "\(stride)"), ("format", "\(format)"),
                         ("cooperative", "1")])
        allocations[id] = Allocation(offset: offset, registration: registration)
        return (WireCodec.encode(objectID: id, opcode: 0, [.fd, .uint(UInt32(region.region.size)), .uint(UInt32(offset))]), [fd])
    }

    /// Handles porthole_shared_buffer_v1.destroy.
    func free(id: UInt32) {
        guard let a = allocations.removeValue(forKey: id) else { return }
        if let r = a.registration { region.unregister(r) }
        region.release(a.offset)
    }

    /// The channel closed: give everything back.
    func freeAll() {
        for id in Array(allocations.keys) { free(id: id) }
    }
}
