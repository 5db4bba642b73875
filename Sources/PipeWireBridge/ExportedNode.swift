import CLibPipeWire

/// A node of the bridge with what it stands for: one guest's application,
/// and the buffer it shows now (nil: idle, between buffers).
final class ExportedNode {
    let node: VideoSourceNode
    let guest: String
    let application: String
    var bufferID: UInt32?
    /// The state last reported, so each change is reported once.
    var reportedState = PW_STREAM_STATE_UNCONNECTED

    init(node: VideoSourceNode, guest: String, application: String, bufferID: UInt32) {
        self.node = node
        self.guest = guest
        self.application = application
        self.bufferID = bufferID
    }
}
