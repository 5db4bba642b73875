import Link
import PortholeSystem
import Wayland

/// The guest side of a buffer consumer's connection (a channel for the
/// host's buffer service, docs/buffer-sharing.md §8). Everything is
/// forwarded as it is: the host replicates each view's file into a resource
/// before the events that name it, and the connection hands the consumer
/// that resource's memfd with `buffer_added`. A consumer's requests carry
/// no fds; one that sends any is refused by the connection.
final class GuestConsumerHandler: ConnectionHandler {
    func outgoing(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict { .forward }

    func incoming(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict {
        // The proxy keeps writing the host's updates through the mapping it
        // made first; the consumer may neither write nor resize the file,
        // so it cannot make this proxy fault or change what it reads.
        // A sharing region is the region itself (docs/buffer-sharing.md §8): no seals.
        if let rid = resources.first, !c.channel.isCommonRegion(rid), let fd = try? c.channel.fd(forResource: rid, as: .shmPool) {
            do { try Memfd.addSeals(fd, [.shrink, .grow, .futureWrite, .seal]) } catch {
                throw .implementation("cannot seal the copy of a buffer for its consumer: \(error)")
            }
        }
        return .forward
    }
}
