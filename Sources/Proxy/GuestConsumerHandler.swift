import Link
import PortholeSystem
import Wayland

/// The guest side of a buffer consumer's connection (a channel for the
/// host's buffer service, docs/buffer-sharing.md §7). Everything is
/// forwarded as it is: the host replicates each view's file into a resource
/// before the events that name it, and the connection hands the consumer
/// that resource's memfd with `buffer_added`. A consumer's requests carry
/// no fds; one that sends any is refused by the connection.
final class GuestConsumerHandler: ConnectionHandler {
    func outgoing(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict { .forward }
    func incoming(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict { .forward }
}
