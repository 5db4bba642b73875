import PortholeSystem
import Wayland

/// A buffer producer (porthole-buffer-producer-v1) for `porthole share
/// publish` and the tests: one buffer in a memfd of its own, published under
/// an application with free-form properties, then presented frame by frame,
/// waiting for release when asked. All calls block; use from one thread.
public final class BufferProducerClient {
    public let size: Int
    private let client: ServiceClient
    private let fd: OwnedFD
    private let mapping: SharedMapping
    private let bufferID: UInt32
    private let timeout: Duration
    /// Sequences every consumer has released.
    public private(set) var released: Set<UInt32> = []
    public private(set) var lastReleased: UInt32?

    /// Connects to the producer socket at `socketPath` (absolute), registers
    /// a zeroed buffer of `size` bytes under `application` and sets
    /// `properties`; `publish()` shows it.
    public init(socketPath: String, application: String, size: Int, properties: [(String, String)],
                timeout: Duration = .seconds(10)) throws(HarnessError) {
        guard size > 0, size <= Int(UInt32.max) else { throw .invalidArgument("buffer of \(size) bytes") }
        self.size = size
        self.timeout = timeout
        client = try ServiceClient(socketPath: socketPath, interface: "porthole_buffer_producer_v1", timeout: timeout)
        let file = try system("memfd of \(size) bytes") { () throws(SystemError) in try Memfd.create(name: "porthole-share", size: size) }
        fd = file
        mapping = try system("map the buffer") { () throws(SystemError) in try SharedMapping(fd: file, size: size) }
        let dup = try system("dup the buffer's fd") { () throws(SystemError) in try file.duplicate() }
        bufferID = client.session.newID()
        try client.session.send(client.globalID, "register", [.newID(bufferID), .fd, .uint(0), .uint(UInt32(size)), .text(application)], fds: [dup])
        for (name, value) in properties { try client.session.send(bufferID, "set_property", [.text(name), .text(value)]) }
        client.onEvent = { [unowned self] (event: ClientEvent) throws(HarnessError) in
            if event.objectID == bufferID, event.spec.name == "released", case .uint(let s) = event.args[0] {
                released.insert(s)
                lastReleased = s
            }
        }
    }

    /// The buffer's memory, to draw into.
    public var pixels: UnsafeMutableRawPointer { mapping.base! }

    /// Shows the buffer (as it is now) to consumers.
    public func publish() throws(HarnessError) {
        try client.session.send(bufferID, "publish")
        try client.roundtrip(timeout: timeout)
    }

    /// Reports `damage` (x, y, width, height) and presents `sequence`.
    public func present(_ sequence: UInt32, damage: [(x: Int, y: Int, width: Int, height: Int)], renderUsec: UInt32) throws(HarnessError) {
        for d in damage {
            try client.session.send(bufferID, "update", [.int(Int32(clamping: d.x)), .int(Int32(clamping: d.y)),
                                                         .int(Int32(clamping: d.width)), .int(Int32(clamping: d.height))])
        }
        try client.session.send(bufferID, "present", [.uint(sequence), .uint(renderUsec)])
        try client.session.dispatchPending(timeout: timeout)
    }

    /// Waits until every consumer released `sequence`; false after `timeout`.
    public func waitReleased(_ sequence: UInt32, timeout: Duration) throws(HarnessError) -> Bool {
        do {
            try client.session.dispatch(timeout: timeout, waitingFor: "release of \(sequence)") { released.contains(sequence) }
        } catch {
            if case .timeout = error { return false }
            throw error
        }
        released = released.filter { $0 > sequence }
        return true
    }

    /// Handles what has arrived without waiting.
    public func poll() throws(HarnessError) { try client.session.dispatchPending(timeout: timeout) }

    /// Unregisters the buffer and disconnects.
    public func close() {
        try? client.session.send(bufferID, "destroy")
        try? client.roundtrip(timeout: .seconds(1))
        client.session.close()
    }
}
