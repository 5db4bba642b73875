import PortholeSystem

/// Buffers across guests and from the host: the host's own programs publish
/// on a producer socket of the host (under `hostName`), and consumers in
/// guests, whose connections the host proxy brings over their links, see
/// grants made to their guest and the host's buffers that `guestAccess`
/// allows them (docs/buffer-sharing.md §8).
extension BufferService {
    /// The guest name under which the host's own programs publish.
    public static let hostName = "host"

    /// Serves the host's own producers on a unix socket at `path`, mode
    /// 0700 (only this user's programs may publish).
    public func listenProducers(path: String) throws(SystemError) {
        let fd = try Socket.listen(.unix(path: path))
        try FileSystem.setMode(path, 0o700)
        producerListener = try ConnectionListener(socket: fd, loop: loop) { [unowned self] client in
            do { try self.serveLocalProducer(socket: client) } catch { Log.warning("buffer service: cannot serve a producer: \(error)") }
        }
        producerSocketPath = path
        Log.info("the host's buffer producers can connect to \(path)")
    }

    /// Serves one producer of the host on a connected socket.
    @discardableResult
    public func serveLocalProducer(socket: OwnedFD) throws(SystemError) -> ProducerSession {
        localProducerCount += 1
        return try serveProducer(socket: socket, guest: Self.hostName, name: "host producer \(localProducerCount)", isHost: true)
    }

    /// Whether a grant may name `name`: a guest connected now, or one the
    /// host's configuration names; never the host itself.
    func knowsGuest(_ name: String) -> Bool {
        name != Self.hostName && (isConnected(name) || configuredGuests.contains(name))
    }

    /// Whether one more consumer of `guest` may connect (they would take
    /// every consumer of the host otherwise).
    func admitsConsumer(of guest: String) -> Bool {
        guard consumers.values.filter({ $0.guest == guest }).count < limits.consumersPerGuest else {
            Log.warning("buffer service: refusing a consumer of guest \(guest): it has \(limits.consumersPerGuest) connected already")
            return false
        }
        return true
    }

    /// The sharing region `guest` maps, if the host declared one for it and
    /// `tag` is what the host wrote in its header.
    func commonRegion(for guest: String, tag: [UInt8]) -> CommonRegion? {
        commonRegions.first { $0.guests.contains(guest) && $0.tag == tag }
    }

    /// Bytes of buffer files that `guest`'s consumers hold views of.
    func viewBytes(ofGuest guest: String) -> UInt64 {
        consumers.values.filter { $0.guest == guest }.reduce(0) { $0 + $1.heldViewBytes }
    }
}
