/// What the bridge did, for its summary line and the tests.
public struct ExportCounters: Sendable, Equatable {
    /// Updates received from the buffer service (each one released).
    public var updates = 0
    /// Frames copied into a PipeWire buffer and queued.
    public var framesQueued = 0
    /// Updates with no consumer streaming the node's format.
    public var notStreaming = 0
    /// Updates dropped because consumers held every PipeWire buffer.
    public var noBuffer = 0
    /// Nodes made, renegotiations, nodes destroyed.
    public var nodesCreated = 0
    public var renegotiations = 0
    public var nodesDestroyed = 0
    /// Buffers left out: unusable properties, or the node limit reached.
    public var buffersRefused = 0

    public var line: String {
        "\(updates) updates, \(framesQueued) frames queued to PipeWire (\(notStreaming) with no consumer streaming, "
            + "\(noBuffer) dropped with every buffer held); nodes: \(nodesCreated) made, \(renegotiations) renegotiated, "
            + "\(nodesDestroyed) removed; \(buffersRefused) buffers refused"
    }
}
