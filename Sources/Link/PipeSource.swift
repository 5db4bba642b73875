import PortholeSystem

/// A pipe this side made for a resource the peer opened: its write end goes
/// to the local process (a clipboard source writing its data); what the
/// process writes is read from the read end and sent to the peer as pipe data.
final class PipeSource {
    let readEnd: OwnedFD
    /// The write end, until it is handed to the local process.
    var writeEnd: OwnedFD?
    var token: EventLoop.Token?
    /// Reading stopped for lack of credit or link room.
    var paused = false
    init(readEnd: OwnedFD, writeEnd: OwnedFD) {
        self.readEnd = readEnd
        self.writeEnd = writeEnd
    }
}
