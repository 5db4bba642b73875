import PortholeSystem
import Wayland

/// A buffer producer (porthole-buffer-producer-v1) for `porthole share
/// publish` and the tests: one buffer in a memfd of its own (or allocated in
/// the guest's shared region: zero copy), published under
/// an application with free-form properties, then presented frame by frame,
/// waiting for release when asked. All calls block; use from one thread.
public final class BufferProducerClient {
    public let size: Int
    private let client: ServiceClient
    private let mapping: SharedMapping
    /// Where the buffer starts in `mapping` (0 for a memfd of its own).
    private let offset: Int
    private let bufferID: UInt32
    private let timeout: Duration
    /// Sequences every consumer has released.
    public private(set) var released: Set<UInt32> = []
    public private(set) var lastReleased: UInt32?

    /// Connects to the producer socket at `socketPath` (absolute), makes a
    /// zeroed buffer of `size` bytes under `application` and sets
    /// `properties`; `publish()` shows it. `inRegion`: allocate it in the
    /// guest's shared region (fails without one) instead of registering a
    /// memfd.
    /// `references`: bind the version that exports and grants (3).
    /// `inSharingRegion`: allocate it in the sharing region this guest maps
    /// with others (`allocate_shared`, version 3) instead.
    public init(socketPath: String, application: String, size: Int, properties: [(String, String)], inRegion: Bool = false,
                references: Bool = false, inSharingRegion: Bool = false, timeout: Duration = .seconds(10)) throws(HarnessError) {
        guard size > 0, size <= Int(UInt32.max) else { throw .invalidArgument("buffer of \(size) bytes") }
        self.size = size
        self.timeout = timeout
        client = try ServiceClient(socketPath: socketPath, interface: "porthole_buffer_producer_v1", version: references || inSharingRegion ? 3 : inRegion ? 2 : 1,
                                   timeout: timeout)
        let id = client.session.newID()
        bufferID = id
        if inRegion || inSharingRegion {
            var memory: (fd: OwnedFD, offset: Int, regionSize: Int)?
            client.onEvent = { (event: ClientEvent) throws(HarnessError) in
                if event.objectID == id, let m = PortholeBufferV1Memory(event.args), let fd = event.fds.first {
                    memory = (fd, Int(m.offset), Int(m.regionSize))
                }
            }
            // The guest proxy answers allocate itself; allocate_shared once the host placed the buffer.
            try client.session.send(client.globalID, inSharingRegion ? "allocate_shared" : "allocate", [.newID(id), .uint(UInt32(size)), .text(application)])
            try client.roundtrip(timeout: timeout)
            guard let memory, memory.offset <= memory.regionSize - size else { throw .protocolViolation("allocate was answered without a usable memory event") }
            mapping = try system("map the shared region") { () throws(SystemError) in try SharedMapping(fd: memory.fd, size: memory.regionSize) }
            offset = memory.offset
        } else {
            let file = try system("memfd of \(size) bytes") { () throws(SystemError) in try Memfd.create(name: "porthole-share", size: size) }
            mapping = try system("map the buffer") { () throws(SystemError) in try SharedMapping(fd: file, size: size) }
            offset = 0
            let dup = try system("dup the buffer's fd") { () throws(SystemError) in try file.duplicate() }
            try client.session.send(client.globalID, "register", [.newID(id), .fd, .uint(0), .uint(UInt32(size)), .text(application)], fds: [dup])
        }
        for (name, value) in properties { try client.session.send(bufferID, "set_property", [.text(name), .text(value)]) }
        client.onEvent = { [unowned self] (event: ClientEvent) throws(HarnessError) in
            if event.objectID == bufferID, event.spec.name == "released", case .uint(let s) = event.args[0] {
                released.insert(s)
                lastReleased = s
            }
        }
    }

    /// The connection's fd: readable when the service sent something or went away.
    public var fileDescriptor: Int32 { client.session.fileDescriptor }

    /// The buffer's memory, to draw into.
    public var pixels: UnsafeMutableRawPointer { mapping.base! + offset }

    /// Shows the buffer (as it is now) to consumers.
    public func publish() throws(HarnessError) {
        try client.session.send(bufferID, "publish")
        try client.roundtrip(timeout: timeout)
    }

    /// Makes a reference to the (published) buffer: a grant that only
    /// consumers of guest `guest` may import, or with nil an export for the
    /// host's consumers; returns its handle. Needs `references` at init.
    public func reference(grantingTo guest: String?) throws(HarnessError) -> [UInt8] {
        let id = client.session.newID()
        var handle: [UInt8]?
        let previous = client.onEvent
        client.onEvent = { (event: ClientEvent) throws(HarnessError) in
            if event.objectID == id, event.spec.name == "handle", case .array(let bytes) = event.args[0] { handle = bytes }
            try previous?(event)
        }
        if let guest {
            try client.session.send(bufferID, "grant", [.newID(id), .text(guest)])
        } else {
            try client.session.send(bufferID, "export", [.newID(id)])
        }
        try client.roundtrip(timeout: timeout)
        guard let handle else { throw .protocolViolation("no handle for the reference") }
        return handle
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
