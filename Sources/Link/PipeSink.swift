import PortholeSystem

/// A local process's pipe write end (a paste target's); pipe data from the
/// peer is written into it.
final class PipeSink {
    let writeEnd: OwnedFD
    /// Bytes received and not yet taken by the pipe.
    var queue: [UInt8] = []
    var token: EventLoop.Token?
    /// The peer sent its end of file: close once the queue is written.
    var closeWhenDrained = false
    init(writeEnd: OwnedFD) { self.writeEnd = writeEnd }
}
