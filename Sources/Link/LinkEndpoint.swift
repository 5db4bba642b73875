import PortholeSystem

/// What a link endpoint reports to the proxy that owns it.
public protocol LinkEndpointDelegate: AnyObject {
    /// The handshake finished; channel frames may flow.
    func linkDidOpen(_ link: LinkEndpoint)
    /// A frame after the handshake. Throwing ends the link with that reason.
    func link(_ link: LinkEndpoint, received frame: LinkFrame) throws(LinkProtocolError)
    /// The outgoing queue fell below the high-water mark.
    func linkDidDrain(_ link: LinkEndpoint)
    /// The link is gone; every channel on it is dead.
    func linkDidClose(_ link: LinkEndpoint, reason: String)
}

/// One end of a link over any byte stream: handshake, framing, an outgoing
/// queue with a high-water mark, and byte counters. Transport agnostic: the
/// descriptor may be a unix, TCP or vsock socket (sendmsg/recvmsg, so stray
/// fds from the peer are noticed) or a character device such as a
/// virtio-serial port (read/write), told apart once with fstat.
public final class LinkEndpoint {
    public let role: LinkRole
    public let limits: LinkLimits
    public let name: String
    public weak var delegate: LinkEndpointDelegate?
    public private(set) var isOpen = false
    public private(set) var isClosed = false
    /// Feature bits both sides support.
    public private(set) var features: UInt64 = 0
    /// Bytes written to and read from the socket.
    public private(set) var sentBytes: UInt64 = 0
    public private(set) var receivedBytes: UInt64 = 0
    /// The link ended because the peer broke the protocol.
    public private(set) var closedByProtocolError = false

    private let socket: OwnedFD
    private let streamKind: StreamKind
    private let loop: EventLoop
    private var token: EventLoop.Token?
    private let input = ReadBuffer()
    private let output = WriteQueue()
    private var scratch: [UInt8] = []
    private var wasCongested = false
    private let offeredFeatures: UInt64

    /// Starts the handshake on a connected socket or an open byte stream.
    /// `features` are the bits this side offers (a proxy without a shared
    /// region leaves `sharedRegion` out).
    public init(socket: OwnedFD, role: LinkRole, name: String, loop: EventLoop, limits: LinkLimits = LinkLimits(),
                features offered: UInt64 = 0, delegate: LinkEndpointDelegate?) throws(SystemError) {
        self.socket = socket
        streamKind = StreamKind.of(socket)
        self.role = role
        self.name = name
        self.loop = loop
        self.limits = limits
        self.delegate = delegate
        self.offeredFeatures = offered & LinkProtocol.supportedFeatures
        token = try loop.register(socket.rawValue, events: .readable) { [weak self] events in
            self?.handle(events)
        }
        send(.hello(version: LinkProtocol.version, role: role, features: offeredFeatures))
    }

    /// Whether producers should pause: too much is queued for the socket.
    public var isCongested: Bool { output.queuedBytes > limits.linkHighWater }

    /// Bytes queued and not yet written.
    public var queuedBytes: Int { output.queuedBytes }

    /// Queues a frame.
    public func send(_ frame: LinkFrame) {
        guard !isClosed else { return }
        scratch.removeAll(keepingCapacity: true)
        FrameCodec.encode(frame, into: &scratch)
        enqueue(scratch)
    }

    /// Queues already-encoded frame bytes (see `FrameCodec`).
    public func enqueue(_ encoded: [UInt8]) {
        guard !isClosed else { return }
        output.enqueue(encoded)
        flush()
    }

    /// Ends the link: tells the peer why (best effort) and closes the socket.
    public func close(reason: String, code: UInt32 = 0, notifyPeer: Bool = true) {
        guard !isClosed else { return }
        if notifyPeer {
            var text = Substring(reason.prefix(limits.maxReasonBytes))
            while text.utf8.count > limits.maxReasonBytes { text = text.dropLast() }
            var bytes: [UInt8] = []
            FrameCodec.encode(.closeLink(code: code, reason: String(text)), into: &bytes)
            // Not send(): a failing write there would re-enter close().
            output.enqueue(bytes)
            _ = try? output.flush(to: socket, kind: streamKind)
        }
        isClosed = true
        isOpen = false
        if let t = token { loop.unregister(t) }
        token = nil
        output.discard()
        socket.close()
        delegate?.linkDidClose(self, reason: reason)
    }

    private func flush() {
        guard !isClosed else { return }
        let before = output.totalWritten
        do {
            let done = try output.flush(to: socket, kind: streamKind)
            sentBytes += output.totalWritten - before
            if let t = token { loop.modify(t, events: done ? .readable : [.readable, .writable]) }
        } catch {
            close(reason: "write failed: \(error)", notifyPeer: false)
            return
        }
        if wasCongested && !isCongested {
            wasCongested = false
            // Told from the loop, not from inside send(): the producer that
            // is sending right now must not be re-entered.
            loop.defer_ { [weak self] in
                guard let self, !self.isClosed else { return }
                self.delegate?.linkDidDrain(self)
            }
        } else if isCongested {
            wasCongested = true
        }
    }

    private func handle(_ events: EventLoop.Events) {
        if events.contains(.writable) { flush() }
        guard !isClosed else { return }
        // Any of these bits (`.hangup` is two: a tty or pipe reports EPOLLHUP alone).
        if !events.isDisjoint(with: [.readable, .hangup, .error]) {
            let alive: Bool
            let before = input.count
            do { alive = try input.fill(from: socket, kind: streamKind) } catch {
                close(reason: "read failed: \(error)", notifyPeer: false)
                return
            }
            receivedBytes += UInt64(max(0, input.count - before))
            if !input.fds.isEmpty {
                input.fds.removeAll()
                close(reason: "peer sent file descriptors over the link")
                return
            }
            do { try processFrames() } catch {
                Log.error("link \(name): \(error); closing this link")
                closedByProtocolError = true
                close(reason: error.description, code: 1)
                return
            }
            if !alive && !isClosed {
                // Unread bytes at end of stream are an incomplete frame (a peer killed mid-frame).
                let reason = input.count > 0
                    ? "peer closed the connection in the middle of a frame (\(input.count) bytes of it dropped)"
                    : "peer closed the connection"
                close(reason: reason, notifyPeer: false)
            }
        }
    }

    private func processFrames() throws(LinkProtocolError) {
        while !isClosed {
            let limits = self.limits
            let length: Int? = try input.withUnconsumed { (b: UnsafeRawBufferPointer) -> Result<Int?, LinkProtocolError> in
                Result { () throws(LinkProtocolError) -> Int? in try FrameCodec.frameLength(b, limits: limits) }
            }.get()
            guard let length, input.count >= length else { return }
            let frame = try input.withUnconsumed { (b: UnsafeRawBufferPointer) -> Result<LinkFrame, LinkProtocolError> in
                Result { () throws(LinkProtocolError) -> LinkFrame in
                    try FrameCodec.decode(UnsafeRawBufferPointer(rebasing: b[0..<length]), limits: limits)
                }
            }.get()
            input.consume(length)
            try dispatch(frame)
        }
    }

    private func dispatch(_ frame: LinkFrame) throws(LinkProtocolError) {
        if !isOpen {
            guard case .hello(let version, let peerRole, let peerFeatures) = frame else {
                if case .closeLink(_, let reason) = frame { close(reason: "peer refused: \(reason)", notifyPeer: false); return }
                throw .helloExpected(FrameCodec.encode(frame)[4...5].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) })
            }
            guard peerRole != role else { throw .sameRole(role) }
            guard min(version, LinkProtocol.version) >= 1 else { throw .unsupportedVersion(version) }
            features = peerFeatures & offeredFeatures
            isOpen = true
            delegate?.linkDidOpen(self)
            return
        }
        switch frame {
        case .hello: throw .unexpected("second hello")
        case .closeLink(let code, let reason):
            close(reason: "peer closed the link (code \(code)): \(reason)", notifyPeer: false)
        default:
            try delegate?.link(self, received: frame)
        }
    }
}
