import Link
import PortholeSystem
import Sharing
import Wayland

/// The guest proxy's own Wayland global, porthole_shared_memory_v1
/// (protocols/porthole-shared-memory-v1.xml): cooperative clients allocate
/// buffers in the shared region and draw there, so no proxy copies a byte.
///
/// The compositor never hears of these objects: each request that creates
/// one reaches it as a placeholder (`PlaceholderIDs`).
final class SharedMemoryExtension {
    /// The registry name the global is offered under (compositors count up from 1).
    static let globalName: UInt32 = 0xFFFF_FF01
    static let interface = "porthole_shared_memory_v1"

    /// One allocation: where it is and its registration with the host.
    private struct Allocation {
        var offset: UInt64
        var registration: UInt32?
    }

    private unowned let region: GuestRegion
    private let application: String
    private let placeholders: PlaceholderIDs
    private var allocations: [UInt32: Allocation] = [:]

    init(region: GuestRegion, application: String, placeholders: PlaceholderIDs) {
        self.region = region
        self.placeholders = placeholders
        self.application = application
    }

    /// Handles the requests that concern the extension; nil for any other.
    func handle(_ m: inout ParsedMessage, on c: WaylandConnection) throws(MessageFault) -> Verdict? {
        switch m.spec.kind {
        case .wlDisplayGetRegistry?:
            // Announce the global on every registry, before the compositor's globals arrive.
            if region.active {
                let registry = try m.typed(WlDisplayGetRegistry.self).registry
                c.sendToSocket(WlRegistryGlobal(name: Self.globalName, interface: Array(Self.interface.utf8), version: 1).encode(objectID: registry))
            }
            return .forward
        case .wlRegistryBind?:
            let r = try m.typed(WlRegistryBind.self)
            guard r.name == Self.globalName else { return nil }
            guard region.active, r.id.interfaceName == Self.interface, r.id.version == 1 else {
                throw .invalidObject("bind of global \(Self.globalName) as \(LogText.escaped(r.id.interface, limit: 128, quoted: false)) v\(r.id.version); it is \(Self.interface) v1")
            }
            m.bytes = placeholders.make(for: r.id.id)
            return .forward
        case .portholeSharedMemoryV1Allocate?:
            let r = try m.typed(PortholeSharedMemoryV1Allocate.self)
            m.bytes = placeholders.make(for: r.id)
            let answer = allocate(r)
            c.sendToSocket(answer.event, fds: answer.fds)
            return .forward
        case .portholeSharedBufferV1Destroy?:
            free(id: m.sender)
            c.sendToSocket(WlDisplayDeleteId(id: m.sender).encode(objectID: Wire.displayID))
            return .drop
        case .portholeSharedMemoryV1Destroy?:
            c.sendToSocket(WlDisplayDeleteId(id: m.sender).encode(objectID: Wire.displayID))
            return .drop
        default:
            return nil
        }
    }

    /// Handles allocate: the event for the client and the fd it carries.
    private func allocate(_ r: PortholeSharedMemoryV1Allocate) -> (event: [UInt8], fds: [OwnedFD]) {
        func failed(_ why: String) -> ([UInt8], [OwnedFD]) {
            Log.info("porthole_shared_memory_v1: allocation refused: \(why)")
            return (PortholeSharedBufferV1Failed(reason: Array(why.utf8)).encode(objectID: r.id), [])
        }
        guard region.active else { return failed("no shared region on the current link") }
        guard r.width > 0, r.height > 0, r.stride > 0 else { return failed("invalid size \(r.width)x\(r.height), stride \(r.stride)") }
        if let bpp = bytesPerPixel(shmFormat: r.format), Int64(r.stride) < Int64(r.width) * Int64(bpp) {
            return failed("stride \(r.stride) is less than width \(r.width) x \(bpp) bytes")
        }
        let size = UInt64(r.stride) * UInt64(r.height)
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
            properties: [("width", "\(r.width)"), ("height", "\(r.height)"), ("stride", "\(r.stride)"), ("format", "\(r.format)"),
                         ("cooperative", "1")])
        allocations[r.id] = Allocation(offset: offset, registration: registration)
        let ready = PortholeSharedBufferV1Ready(regionSize: UInt32(region.region.size), offset: UInt32(offset))
        return (ready.encode(objectID: r.id), [fd])
    }

    /// Handles porthole_shared_buffer_v1.destroy.
    private func free(id: UInt32) {
        guard let a = allocations.removeValue(forKey: id) else { return }
        if let r = a.registration { region.unregister(r) }
        region.release(a.offset)
    }

    /// The connection closed: give everything back.
    func freeAll() {
        for id in Array(allocations.keys) { free(id: id) }
    }
}
