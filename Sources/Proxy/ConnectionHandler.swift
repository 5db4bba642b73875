import Link
import PortholeSystem
import Wayland

/// The side-specific part of a Wayland connection: the guest's pool
/// replication and surfaces, or the host's checks and filters. Handlers look
/// at typed messages and record what they learn; the connection reads,
/// writes and forwards (it sends what a handler asks for at the points where
/// order is decided).
protocol ConnectionHandler: AnyObject {
    /// A message read from the local socket, before it goes to the link.
    /// `resources` are the resources that stand for its fds.
    func outgoing(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict
    /// A message from the link, before it goes to the local socket.
    /// `resources` are the resources that stand for its fds.
    func incoming(_ m: inout ParsedMessage, resources: [UInt32], on c: WaylandConnection) throws(MessageFault) -> Verdict
    /// Whether a message from the link for `objectID` is dropped unread (an
    /// object the local peer does not know under that id).
    func swallowsIncoming(objectID: UInt32) -> Bool
    /// The bytes the link carries for a message read from the local socket
    /// (a handler that rewrites it into more says so before it is sent).
    func linkBytes(for m: ParsedMessage) -> Int
    /// Whether the handler keeps an fd read from the local socket itself
    /// (it never crosses the link), before it is turned into a resource.
    func keepsFd(_ fd: OwnedFD, of m: ParsedMessage) -> Bool
    /// The resource for a wl_shm pool fd read from the local socket.
    func poolResource(for fd: OwnedFD, message: ParsedMessage, on c: WaylandConnection) throws(MessageFault) -> UInt32
    /// A data frame is about to go: send what must reach the peer first.
    func flushPending(on c: WaylandConnection) throws(MessageFault)
    /// Whether the work `flushPending` would do now is large enough to be
    /// run in slices (`advancePending`), other channels' work in between.
    var hasSlicedWork: Bool { get }
    /// Does the next slice of the pending work. The connection holds its
    /// data frame back, and reads nothing more from its socket, until this
    /// says `.done`.
    func advancePending(on c: WaylandConnection) throws(MessageFault) -> SliceProgress
    /// The connection closed: give back what it held.
    func closed(on c: WaylandConnection)
}

extension ConnectionHandler {
    func swallowsIncoming(objectID: UInt32) -> Bool { false }
    func linkBytes(for m: ParsedMessage) -> Int { m.header.size }
    func keepsFd(_ fd: OwnedFD, of m: ParsedMessage) -> Bool { false }
    func poolResource(for fd: OwnedFD, message: ParsedMessage, on c: WaylandConnection) throws(MessageFault) -> UInt32 {
        throw .implementation("\(message.name) is not expected in this direction")
    }
    func flushPending(on c: WaylandConnection) throws(MessageFault) {}
    var hasSlicedWork: Bool { false }
    func advancePending(on c: WaylandConnection) throws(MessageFault) -> SliceProgress {
        try flushPending(on: c)
        return .done
    }
    func closed(on c: WaylandConnection) {}
}
