import Link
import PortholeSystem
import Wayland

/// The host side of a guest producer's channel: the other end of its
/// socket is the buffer service, not the compositor. Besides the checks
/// every channel gets (WaylandConnection: messages against the tables,
/// resources turned into memfds), only the producer global may be bound and
/// only `register` may carry an fd: a resource of the guest's memory, never
/// the shared region, large enough for the buffer. The service checks the
/// rest (docs/buffer-sharing.md §5).
final class HostProducerHandler: ConnectionHandler {
    static let producerGlobal = "porthole_buffer_producer_v1"

    func outgoing(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict { .forward }

    func incoming(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        switch m.spec.kind {
        case .wlRegistryBind?:
            let b = try m.typed(WlRegistryBind.self)
            guard b.id.interface == Array(Self.producerGlobal.utf8) else {
                throw .invalidObject("only \(Self.producerGlobal) can be bound on a buffer producer's connection, not \(LogText.escaped(b.id.interface))")
            }
        case .portholeBufferProducerV1Register?:
            let r = try m.typed(PortholeBufferProducerV1Register.self)
            guard let rid = resources.first, !c.channel.isSharedRegion(rid), let size = c.channel.resourceSize(rid) else {
                throw .invalidMethod(m.sender, "register needs a resource of the guest's memory")
            }
            guard UInt64(r.offset) + UInt64(r.size) <= size else {
                throw .invalidMethod(m.sender, "buffer \(r.offset)+\(r.size) lies outside its \(size)-byte resource")
            }
        case .portholeBufferProducerV1Allocate?:
            // The guest proxy answers allocate itself and sends register_region.
            throw .invalidMethod(m.sender, "allocate may not cross the link; the guest proxy sends register_region")
        default:
            guard resources.isEmpty else { throw .invalidMethod(m.sender, "\(m.name) may not carry an fd on a buffer producer's connection") }
        }
        return .forward
    }
}
