import PortholeSystem

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
    public internal(set) var isOpen = false
    public private(set) var isClosed = false
    /// Feature bits both sides support.
    public private(set) var features: UInt64 = 0
    /// Bytes written to and read from the socket.
    public var sentBytes: UInt64 { writer.map { w in w.locked { $0.totalWritten } } ?? loopSentBytes }
    private var loopSentBytes: UInt64 = 0
    /// Writes the loop made to the socket (tests count them: see `corked`).
    var loopWrites: UInt64 { output.writes }
    public private(set) var receivedBytes: UInt64 = 0
    /// Frames read and handled.
    public private(set) var receivedFrames: UInt64 = 0
    /// The link ended because the peer broke the protocol.
    public private(set) var closedByProtocolError = false
    /// Log a line for every frame sent and received (`--trace`).
    public var traceFrames = false

    private let socket: OwnedFD
    private let streamKind: StreamKind
    let loop: EventLoop
    private var token: EventLoop.Token?
    private let input = ReadBuffer()
    private let output = LinkOutput()
    private var scratch: [UInt8] = []
    /// The update whose data is being received into its target.
    private var inbound: Inbound?
    /// Reused by `sendUpdate`.
    private var pieces: [UpdateRun] = []

    private struct Inbound {
        let target: UpdateTarget
        var progress: UpdateProgress
    }
    /// Host: where long update data is received off the loop (nil: on it).
    public var receiveThreads: ReceiveThreads?
    /// The update being received on a receive thread; the loop does not
    /// read this link's socket meanwhile.
    private var handedOver: HandedOver?
    /// The loop finishes the current frame itself (see `takeBack`).
    private var handOverPaused = false

    // The bulk lane (docs/link-protocol.md §14).

    /// This link's bulk lane, once attached.
    public internal(set) var lane: LinkEndpoint?
    /// Bytes the lane wrote, also after it closed.
    public var laneSentBytes: UInt64 { lane?.sentBytes ?? closedLaneSentBytes }
    private var closedLaneSentBytes: UInt64 = 0
    /// Of a lane: its link's main connection.
    public internal(set) weak var laneOwner: LinkEndpoint?
    /// A guest's lane: the token it attaches with, sent instead of a hello.
    private let attachToken: [UInt8]?
    /// Host: the token offered for this link's lane, until a lane used it.
    var offeredLaneToken: [UInt8]?
    /// Guest: channels moved to the lane; their frames go there. Kept after
    /// a channel closes: its last frame (an acknowledgement, say) must not
    /// overtake its earlier ones, and ids are not reused within a link.
    var laneChannels: Set<UInt32> = []
    /// Host lane: the next frame's channel has not moved yet (its move, or
    /// its open, is unread on the main connection); reading waits.
    var laneWaiting = false
    /// A guest lane read the host's hello.
    var laneHelloSeen = false
    /// A guest lane's writer thread, which writes its whole queue.
    private var writer: LinkWriter?
    private var writerToken: EventLoop.Token?
    /// Guest: which channels move to the lane, and when.
    private var lanePolicy = LanePolicy()

    private struct HandedOver {
        let job: BulkReceive
        let target: UpdateTarget
        let worker: BackgroundWorker
        let ticket: BackgroundWorker.Ticket
    }

    /// Runs at least this long are received straight into their target when
    /// nothing is buffered ahead of them.
    static let directReceiveMinimum = 16384
    /// Update data at least this long left to receive goes to a receive
    /// thread, if the link has them: less is not worth two wake-ups.
    static let handOverMinimum = 65536
    /// Runs at least this long are queued by reference, not copied.
    static let referenceMinimum = 4096
    /// Bytes read into the buffer when it is empty between frames.
    static let firstRead = 32768
    /// Socket buffers asked for on a link within the machine (unix, vsock).
    /// Bytes in the socket are the only ones a small frame of another
    /// channel cannot overtake (`LinkOutput`): at the host's rate of about
    /// 5 GB/s, 512 KiB each way (which the kernel doubles) is at most about
    /// 0.2 ms of wait, and a 4K frame goes as fast as with 4 MiB
    /// (docs/benchmarks.md, "Stream mode: express frames").
    static let localSocketBuffer: Int32 = 512 << 10
    /// On TCP, where a network's bandwidth-delay product may need more.
    static let networkSocketBuffer: Int32 = 4 << 20
    /// Largest data of one `resourceUpdate` frame that `sendUpdate` makes:
    /// a frame being written is never overtaken, so its size is another
    /// channel's wait.
    public static let updateFrameData = 256 << 10
    /// Most bytes read from the socket in one turn of the loop.
    static let readBudget = 4 << 20
    /// Most frames handled in one turn of the loop. A frame can cost the
    /// host a pipe or memfd, a compositor write or a registry change: a guest
    /// sending cheap frames as fast as the socket takes them gets this many,
    /// then every other ready link has its turn.
    public static let framesPerTurn = 64
    /// Longest a turn lasts (ns), whatever its frames cost: one busy link
    /// delays the others by at most about this much per loop iteration.
    static let turnTime: UInt64 = 1_000_000
    /// What is left of this link's share of a turn.
    private struct Turn {
        var bytes = LinkEndpoint.readBudget
        var frames = LinkEndpoint.framesPerTurn
        let deadline = MonotonicClock.nanoseconds() + LinkEndpoint.turnTime
        var isSpent: Bool { bytes <= 0 || frames <= 0 || MonotonicClock.nanoseconds() >= deadline }
    }
    /// Reading waits for the loop's next iteration (see `yieldTurn`).
    private var turnYielded = false
    /// The peer's end of the stream has been read; what it sent before is
    /// still being handled.
    private var peerEnded = false
    private var wasCongested = false
    /// `corked` calls under way, and whether a write waits for the last to end.
    private var corkDepth = 0
    private var corkedWrite = false
    /// Host: frames from the peer wait while too much is queued for it (see
    /// `LinkLimits.maxQueuedBytes`).
    private var inputHeld = false
    private let offeredFeatures: UInt64

    /// Starts the handshake on a connected socket or an open byte stream.
    /// `features` are the bits this side offers (a proxy without a shared
    /// region leaves `sharedRegion` out).
    public convenience init(socket: OwnedFD, role: LinkRole, name: String, loop: EventLoop, limits: LinkLimits = LinkLimits(),
                            features offered: UInt64 = 0, delegate: LinkEndpointDelegate?) throws(SystemError) {
        try self.init(socket: socket, role: role, name: name, loop: loop, limits: limits, features: offered, attachToken: nil, delegate: delegate)
    }

    init(socket: OwnedFD, role: LinkRole, name: String, loop: EventLoop, limits: LinkLimits,
                 features offered: UInt64, attachToken: [UInt8]?, delegate: LinkEndpointDelegate?) throws(SystemError) {
        self.attachToken = attachToken
        self.socket = socket
        streamKind = StreamKind.of(socket)
        self.role = role
        self.name = name
        self.loop = loop
        self.limits = limits
        self.delegate = delegate
        self.offeredFeatures = offered & LinkProtocol.supportedFeatures
        // Pixel updates are megabytes: with the default ~200 KiB socket
        // buffer the two proxies wake each other up for every few hundred
        // KiB; with a few MiB, another window's small commit waits behind them.
        if streamKind == .socket {
            Socket.setBufferSizes(socket, bytes: Socket.isNetwork(socket) ? Self.networkSocketBuffer : Self.localSocketBuffer)
        }
        token = try loop.register(socket.rawValue, events: .readable) { [weak self] events in
            self?.handle(events)
        }
        if let attachToken {
            send(.laneAttach(token: attachToken))
        } else {
            send(.hello(version: LinkProtocol.version, role: role, features: offeredFeatures))
        }
    }

    deinit { writer?.stop() }

    /// Whether producers should pause: too much is queued for the socket.
    public var isCongested: Bool { queuedBytes > limits.linkHighWater }

    /// Bytes queued and not yet written.
    public var queuedBytes: Int { writer.map { w in w.locked { $0.queuedBytes } } ?? output.queuedBytes }

    /// The same for the connection `channel`'s frames go on (the lane, once it moved there).
    public func isCongested(channel: UInt32) -> Bool { route(channel).isCongested }
    public func queuedBytes(channel: UInt32) -> Int { route(channel).queuedBytes }
    /// Queues a frame.
    public func send(_ frame: LinkFrame) {
        guard !isClosed else { return }
        let to = route(frame.channel)
        if to !== self { return to.send(frame) }
        if traceFrames { Log.trace("\(name) sent \(frame.traceLine)") }
        scratch.removeAll(keepingCapacity: true)
        FrameCodec.encode(frame, into: &scratch)
        enqueue(scratch, channel: frame.channel)
    }

    /// Queues one already-encoded frame (see `FrameCodec`) of `channel`
    /// (nil: a link-wide frame, which nothing overtakes).
    public func enqueue(_ encoded: [UInt8], channel: UInt32?) {
        guard !isClosed else { return }
        if lane != nil, let channel, !laneChannels.contains(channel) {
            lanePolicy.noteFrame(channel: channel, now: MonotonicClock.nanoseconds())
        }
        let to = route(channel)
        if to !== self { return to.enqueue(encoded, channel: channel) }
        queueHere(encoded, channel: channel)
    }

    /// Queues an encoded frame on this connection, whatever its channel.
    private func queueHere(_ encoded: [UInt8], channel: UInt32?) {
        if let writer {
            writer.locked { o in Self.queue(encoded, channel: channel, on: o) }
        } else {
            Self.queue(encoded, channel: channel, on: output)
        }
        flush()
    }

    private static func queue(_ encoded: [UInt8], channel: UInt32?, on o: LinkOutput) {
        o.beginFrame(channel: channel, bytes: encoded.count)
        o.append(encoded)
        o.endFrame()
    }

    /// Sends `runs` of the memory at `base` as `resourceUpdate` frames of at
    /// most `maxPayload - 4096` payload bytes each, without building them:
    /// headers and short runs are copied into the queue, longer runs are
    /// queued by reference and written from `base` with a gather write.
    /// Until they are written, the caller must leave those bytes unchanged
    /// and mapped, or first call `detach(owner)`. Returns the data bytes.
    @discardableResult
    public func sendUpdate(channel: UInt32, resource: UInt32, base: UnsafeRawPointer, runs: [UpdateRun], owner: AnyObject) -> Int {
        guard !isClosed else { return 0 }
        if let lane, lane.isOpen, !laneChannels.contains(channel),
           lanePolicy.noteUpdate(channel: channel, bytes: Self.dataBytes(runs), now: MonotonicClock.nanoseconds()) {
            // After every frame of the channel queued so far on this
            // connection: the host handles the channel's lane frames only
            // once it has read this.
            if traceFrames { Log.trace("\(name) sent laneMove(channel \(channel))") }
            queueHere(FrameCodec.encode(.laneMove(channel: channel)), channel: channel)
            laneChannels.insert(channel)
            Log.info("\(name): channel \(channel) moved to the bulk lane")
        }
        let to = route(channel)
        if to !== self { return to.sendUpdate(channel: channel, resource: resource, base: base, runs: runs, owner: owner) }
        let total: Int
        if let writer {
            total = writer.locked { o in queueUpdate(on: o, channel: channel, resource: resource, base: base, runs: runs, owner: owner) }
        } else {
            total = queueUpdate(on: output, channel: channel, resource: resource, base: base, runs: runs, owner: owner)
        }
        flush()
        return total
    }

    private static func dataBytes(_ runs: [UpdateRun]) -> Int {
        var n = 0
        for r in runs { n += r.length }
        return n
    }

    /// `sendUpdate`'s frames, queued on `output` (locked, with a writer).
    private func queueUpdate(on output: LinkOutput, channel: UInt32, resource: UInt32, base: UnsafeRawPointer,
                             runs: [UpdateRun], owner: AnyObject) -> Int {
        let budget = min(limits.maxPayload - 4096, Self.updateFrameData)
        // Worked on as a local: a class property changed once per run pays
        // a dynamic exclusivity check each time, and scattered damage has
        // hundreds of runs a commit (a third of the guest's CPU went there).
        var pieces: [UpdateRun] = []
        swap(&pieces, &self.pieces)
        defer { swap(&pieces, &self.pieces) }
        var total = 0
        var i = 0
        var runDone = 0
        while i < runs.count {
            pieces.removeAll(keepingCapacity: true)
            var data = 0
            while i < runs.count {
                let room = budget - 8 - 16 * (pieces.count + 1) - data
                if room <= 0 { break }
                let left = runs[i].length - runDone
                let n = min(room, left)
                if n > 0 { pieces.append(UpdateRun(offset: runs[i].offset + runDone, length: n)) }
                data += n
                if n == left { i += 1; runDone = 0 } else { runDone += n; break }
            }
            if pieces.isEmpty { continue }
            if traceFrames { Log.trace("\(name) sent resourceUpdate(channel \(channel), resource \(resource), \(pieces.count) ranges, \(data) bytes)") }
            let tableBytes = 16 * pieces.count
            output.beginFrame(channel: channel, bytes: LinkProtocol.headerSize + 8 + tableBytes + data)
            pieces.withUnsafeBufferPointer { list in
                output.append(count: LinkProtocol.headerSize + 8 + tableBytes) { p in
                    FrameCodec.writeUpdateHeader(into: p, channel: channel, resource: resource, ranges: list, dataBytes: data)
                }
                // Long pieces go by reference; each stretch of short ones
                // between them is copied into the queue with one append.
                var k = 0
                while k < list.count {
                    if list[k].length >= Self.referenceMinimum {
                        output.appendReference(base + list[k].offset, length: list[k].length, owner: owner)
                        k += 1
                        continue
                    }
                    var end = k, bytes = 0
                    while end < list.count && list[end].length < Self.referenceMinimum {
                        bytes += list[end].length
                        end += 1
                    }
                    let stretch = UnsafeBufferPointer(rebasing: list[k..<end])
                    output.append(count: bytes) { p in
                        var at = p
                        for piece in stretch {
                            at.copyMemory(from: base + piece.offset, byteCount: piece.length)
                            at += piece.length
                        }
                    }
                    k = end
                }
            }
            output.endFrame()
            total += data
        }
        return total
    }

    /// Copies any bytes of `owner` still queued by reference into the queue,
    /// so the owner may change or unmap its memory.
    public func detach(_ owner: AnyObject) {
        if let writer { writer.waitUntilNotWriting(owner) } else { output.detach(owner) }
        lane?.detach(owner)
    }

    /// Bytes queued by reference so far (not copied in user space), the lane's included.
    public var referencedBytes: UInt64 {
        (writer.map { w in w.locked { $0.externalBytesQueued } } ?? output.externalBytesQueued) + (lane?.referencedBytes ?? 0)
    }

    /// Ends the link: tells the peer why (best effort) and closes the socket.
    public func close(reason: String, code: LinkCloseCode = .orderly, notifyPeer: Bool = true) {
        guard !isClosed else { return }
        if let w = writer {
            w.stop()
            writer = nil
            if let t = writerToken { loop.unregister(t) }
            writerToken = nil
        }
        // The thread reads the socket and writes the mapping: both stay
        // open until it has returned (at its next read, well under a ms).
        if let h = handedOver {
            handedOver = nil
            h.job.cancel()
            h.worker.wait(for: h.ticket)
        }
        if notifyPeer {
            var bytes: [UInt8] = []
            FrameCodec.encode(.closeLink(code: code.rawValue, reason: limits.reasonText(reason)), into: &bytes)
            // Not send(): a failing write there would re-enter close().
            output.beginFrame(channel: nil, bytes: bytes.count)
            output.append(bytes)
            output.endFrame()
            _ = try? output.flush(to: socket, kind: streamKind)
        }
        isClosed = true
        isOpen = false
        if let t = token { loop.unregister(t) }
        token = nil
        output.discard()
        inbound = nil
        socket.close()
        // A link and its lane end together.
        if let l = lane {
            closedLaneSentBytes = l.sentBytes
            lane = nil
            l.close(reason: "its link closed", notifyPeer: false)
        }
        if let owner = laneOwner {
            laneOwner = nil
            owner.lane = nil
            owner.close(reason: "its bulk lane closed: \(reason)", code: closedByProtocolError ? .protocolError : code,
                        notifyPeer: true)
        }
        delegate?.linkDidClose(self, reason: reason)
    }

    // MARK: Writer thread (a guest's lane)

    /// From now on a thread of its own writes what is queued (a guest's
    /// lane; tests start one on any endpoint); small frames still go from
    /// the loop when that thread is idle. Producers hear (`linkDidDrain`)
    /// when the queue falls to `roomBelow`.
    func startWriter(roomBelow: Int) throws(SystemError) {
        guard writer == nil, !isClosed else { return }
        let w = try LinkWriter(output: output, socket: socket, kind: streamKind, drainMark: limits.linkHighWater, roomMark: roomBelow)
        do {
            writerToken = try loop.register(w.loopWake.rawValue, events: .readable) { [weak self] _ in self?.writerNews() }
        } catch {
            w.stop()
            throw error
        }
        writer = w
        watch()
        flush()
    }

    /// The writer drained the queue below a mark, or failed.
    private func writerNews() {
        guard let writer, !isClosed else { return }
        let news = writer.takeNews()
        if let failure = news.failure {
            close(reason: failure, notifyPeer: false)
            return
        }
        afterWrite()
        if news.room && !news.drained { tellDrained() }
    }

    /// Producers may go on: told to the delegate of the link (a lane's owner's).
    private func tellDrained() {
        if let owner = laneOwner {
            owner.delegate?.linkDidDrain(owner)
        } else {
            delegate?.linkDidDrain(self)
        }
    }

    /// Frames queued inside `body` go out in one write when it returns,
    /// not one write each: a commit's pixel update and the Wayland messages
    /// behind it then wake the peer once. Only while little is queued
    /// (`directWrite`): a large update is written at once, as outside, so
    /// congestion and the drain news follow the queue as they always do.
    public func corked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        corkDepth += 1
        defer {
            corkDepth -= 1
            if corkDepth == 0 && corkedWrite {
                corkedWrite = false
                flush()
            }
        }
        return try body()
    }

    private func flush() {
        guard !isClosed else { return }
        if corkDepth > 0 && queuedBytes < Self.directWrite {
            corkedWrite = true
            return
        }
        do {
            if let writer {
                try writer.queued(directUpTo: Self.directWrite)
            } else {
                let before = output.totalWritten
                _ = try output.flush(to: socket, kind: streamKind)
                loopSentBytes += output.totalWritten - before
            }
        } catch {
            close(reason: "write failed: \(error)", notifyPeer: false)
            return
        }
        afterWrite()
    }

    /// With a writer: the loop writes the queue itself (no hand-over) when
    /// the writer is idle and this little is queued.
    static let directWrite = 65536

    /// What follows any write: a held peer may be read again, the loop
    /// watches for what it waits for, producers hear of a drained queue.
    private func afterWrite() {
        let queued = queuedBytes
        if queued <= limits.maxQueuedBytes / 2 {
            releaseHold()
            lane?.releaseHold()
        }
        watch()
        let congested = queued > limits.linkHighWater
        if wasCongested && !congested {
            wasCongested = false
            // Told from the loop, not from inside send(): the producer that
            // is sending right now must not be re-entered.
            loop.defer_ { [weak self] in
                guard let self, !self.isClosed else { return }
                self.tellDrained()
            }
        } else if congested {
            wasCongested = true
        }
    }

    private func handle(_ events: EventLoop.Events) {
        if events.contains(.writable) { flush() }
        guard !isClosed else { return }
        // A receive thread reads the socket now, its end included.
        if handedOver != nil { return }
        // Any of these bits (`.hangup` is two: a tty or pipe reports EPOLLHUP alone).
        guard !events.isDisjoint(with: [.readable, .hangup, .error]) else { return }
        if inputHeld {
            // epoll reports a hangup whatever we ask for: a peer that went
            // away with answers still queued for it will never read them.
            if !events.isDisjoint(with: [.hangup, .error]) {
                close(reason: "peer closed the connection with \(queuedBytes) bytes queued for it", notifyPeer: false)
            }
            return
        }
        if laneWaiting {
            // The same for a lane whose next frame waits for the main connection.
            if !events.isDisjoint(with: [.hangup, .error]) {
                close(reason: "peer closed the bulk lane while a frame of it waited", notifyPeer: false)
            }
            return
        }
        // A hangup while this link waits for its next turn: that turn reads
        // the end of the stream.
        if turnYielded { return }
        serveTurn()
    }

    /// One turn's share of this link's input: what an earlier turn left
    /// buffered first, then reads, until the turn's bytes or frames are
    /// spent (then the link yields to every other ready descriptor) or the
    /// socket is drained.
    private func serveTurn() {
        var turn = Turn()
        do {
            try processFrames(&turn)
            while !isClosed && !peerEnded && !turn.isSpent && !inputHeld && !laneWaiting {
                // Long update data with nothing buffered ahead of it: on a receive thread, or straight into the target.
                if input.count == 0 && handOver() { return }
                if input.count == 0, let n = try receiveDirect(budget: turn.bytes) {
                    if n == 0 { break }
                    turn.bytes -= n
                    try processFrames(&turn)
                    continue
                }
                let before = input.count
                // Between frames, read a little first: if an update with long
                // runs comes next, its data is then received straight into place.
                let want = inbound == nil && input.count == 0 ? min(turn.bytes, Self.firstRead) : min(turn.bytes, 1 << 20)
                do { peerEnded = try !input.fill(from: socket, limit: want, kind: streamKind) } catch {
                    close(reason: "read failed: \(error)", notifyPeer: false)
                    return
                }
                let got = max(0, input.count - before)
                receivedBytes += UInt64(got)
                turn.bytes -= got
                if !input.fds.isEmpty {
                    input.fds.removeAll()
                    fail(.fileDescriptors)
                    return
                }
                try processFrames(&turn)
                // Fewer bytes than asked for: the socket is drained.
                if got < want { break }
            }
        } catch {
            fail(error)
            return
        }
        guard !isClosed else { return }
        // Frames the peer sent before it went away are handled first, a
        // share per turn like any others.
        if turn.isSpent && !inputHeld {
            yieldTurn()
            return
        }
        if peerEnded {
            // Unread bytes at end of stream are an incomplete frame (a peer killed mid-frame).
            // An update being received into place: its bytes so far count too.
            let partial = input.count + (inbound.map { $0.progress.frameLength - $0.progress.remaining } ?? 0)
            let reason = partial > 0
                ? "peer closed the connection in the middle of a frame (\(partial) bytes of it dropped)"
                : "peer closed the connection"
            close(reason: reason, notifyPeer: false)
        }
    }

    /// Stops reading until the next loop iteration has served every other
    /// ready descriptor: one busy guest's frames (each may make the host
    /// open descriptors, copy megabytes or write to the compositor) never
    /// hold other guests' frames behind them for more than a turn.
    private func yieldTurn() {
        turnYielded = true
        watch()
        loop.nextTurn { [weak self] in
            guard let self, !self.isClosed, self.handedOver == nil else { return }
            self.turnYielded = false
            self.watch()
            if !self.inputHeld { self.serveTurn() }
        }
    }

    /// Asks the loop for what this link waits for now: input unless it is
    /// held or waiting for its turn, and room to write while bytes are queued.
    func watch() {
        guard let t = token else { return }
        var interest: EventLoop.Events = inputHeld || turnYielded || handedOver != nil || laneWaiting ? [] : .readable
        if writer == nil && output.queuedBytes > 0 { interest.insert(.writable) }
        loop.modify(t, events: interest)
    }

    /// Receives the rest of the current update range straight into its
    /// target, if it is long enough. Nil when it is not (use the buffer);
    /// else the bytes received (0: the socket has nothing now).
    private func receiveDirect(budget: Int) throws(LinkProtocolError) -> Int? {
        guard var u = inbound, !u.progress.isComplete else { return nil }
        let (offset, left) = u.progress.next
        guard left >= Self.directReceiveMinimum else { return nil }
        let into = UnsafeMutableRawBufferPointer(start: u.target.base + offset, count: min(left, budget))
        var fds: [OwnedFD] = []
        let r: Socket.Received
        do {
            r = streamKind == .plain ? try StreamKind.read(socket, into: into) : try Socket.receive(socket, into: into, fds: &fds)
        } catch {
            close(reason: "read failed: \(error)", notifyPeer: false)
            return 0
        }
        if !fds.isEmpty {
            fail(.fileDescriptors)
            return 0
        }
        switch r {
        case .bytes(let n):
            receivedBytes += UInt64(n)
            u.target.direct += n
            u.progress.advance(n)
            inbound = u
            if u.progress.isComplete { finishInbound() }
            return n
        case .wouldBlock:
            return 0
        case .endOfStream:
            peerEnded = true
            return 0
        }
    }

    /// Moves buffered bytes into the update being received.
    private func drainInbound() {
        guard var u = inbound else { return }
        let n = input.withUnconsumed { u.progress.scatter($0, into: u.target.base) }
        input.consume(n)
        u.target.copied += n
        inbound = u
        if u.progress.isComplete { finishInbound() }
    }

    private func finishInbound() {
        guard let u = inbound else { return }
        inbound = nil
        handOverPaused = false
        u.target.frames += 1
        u.target.completed(u.target)
    }

    /// Gives the update being received, and the socket, to a receive
    /// thread if it has enough data left and a thread is free. The loop
    /// reads this link again when the job is back (`takeBack`).
    private func handOver() -> Bool {
        guard let u = inbound, let threads = receiveThreads, streamKind == .socket, !handOverPaused,
              u.progress.remaining >= Self.handOverMinimum else { return false }
        let job: BulkReceive
        do { job = try BulkReceive(socket: socket, target: u.target, progress: u.progress, limits: limits) } catch { return false }
        guard let (worker, ticket) = threads.start(job, completion: { [weak self] in self?.takeBack(job) }) else { return false }
        inbound = nil
        handedOver = HandedOver(job: job, target: u.target, worker: worker, ticket: ticket)
        watch()
        return true
    }

    /// The receive thread is done with the link: what it received is
    /// counted, a frame it stopped in the middle of goes on here, and the
    /// loop reads the socket again.
    private func takeBack(_ job: BulkReceive) {
        guard let h = handedOver, h.job === job else { return }
        handedOver = nil
        receivedBytes += UInt64(job.receivedBytes)
        receivedFrames += UInt64(job.startedFrames)
        let target = h.target
        target.direct += job.direct
        target.copied += job.copied
        target.onThread += job.direct + job.copied
        target.frames += job.finishedFrames
        if traceFrames {
            Log.trace("\(name) received \(job.startedFrames) more resourceUpdate frames of resource \(job.resource) on a receive thread (\(job.receivedBytes) bytes, \(job.ending))")
        }
        if let p = job.progress {
            inbound = Inbound(target: target, progress: p)
            // It stopped inside a frame (the peer is slow, or gone): the
            // loop finishes that frame itself rather than hand it straight back.
            handOverPaused = true
        } else {
            target.completed(target)
        }
        switch job.ending {
        case .readFailed(let why):
            close(reason: why, notifyPeer: false)
            return
        case .fileDescriptors:
            fail(.fileDescriptors)
            return
        case .handedBack, .idle, .timeUp, .endOfStream, .cancelled:
            break
        }
        watch()
    }

    /// Ends the link for the peer's protocol error.
    private func fail(_ error: LinkProtocolError) {
        Log.error("link \(name): \(error); closing this link")
        closedByProtocolError = true
        close(reason: error.description, code: .protocolError)
    }

    /// The peer took enough of what was queued for it: read again.
    private func releaseHold() {
        guard inputHeld else { return }
        inputHeld = false
        watch()
        // What was read before the hold is handled from the loop, not from
        // inside whatever send() flushed.
        loop.defer_ { [weak self] in self?.processHeldFrames() }
    }

    /// Frames read before the host stopped reading, once the peer took enough.
    func processHeldFrames() {
        guard !isClosed, !inputHeld, !turnYielded, handedOver == nil else { return }
        serveTurn()
    }

    private func processFrames(_ turn: inout Turn) throws(LinkProtocolError) {
        while !isClosed && !turn.isSpent {
            if inbound != nil {
                drainInbound()
                if inbound != nil { return }
                continue
            }
            // A guest that sends but never reads (credit requests, say, each
            // answered) would otherwise grow the queue without end. The host
            // reads nothing more until the guest has taken half of it.
            // A lane's frames are answered on its link's main connection: that queue counts.
            let queuedForPeer = laneOwner?.queuedBytes ?? queuedBytes
            if role == .host && queuedForPeer > limits.maxQueuedBytes {
                if !inputHeld {
                    inputHeld = true
                    Log.debug("\(name): \(queuedForPeer) bytes queued for the peer; reading no more from it until it takes them")
                    watch()
                }
                return
            }
            let limits = self.limits
            let length: Int? = try input.withUnconsumed { (b: UnsafeRawBufferPointer) -> Result<Int?, LinkProtocolError> in
                Result { () throws(LinkProtocolError) -> Int? in try FrameCodec.frameLength(b, limits: limits) }
            }.get()
            guard let length else { return }
            if let owner = laneOwner, role == .host {
                // A frame of a channel whose move (or open) is still unread
                // on the main connection waits for it; link-wide frames
                // (channel 0) go on to `dispatch`, which judges them.
                let c = input.withUnconsumed { FrameCodec.frameChannel($0) } ?? 0
                if c != 0 && !(owner.delegate?.link(owner, laneFrameReady: c) ?? false) {
                    if !laneWaiting {
                        laneWaiting = true
                        watch()
                    }
                    return
                }
            }
            if isOpen, try startUpdate(length: length) {
                turn.frames -= 1
                receivedFrames += 1
                continue
            }
            guard input.count >= length else { return }
            let frame = try input.withUnconsumed { (b: UnsafeRawBufferPointer) -> Result<LinkFrame, LinkProtocolError> in
                Result { () throws(LinkProtocolError) -> LinkFrame in
                    try FrameCodec.decode(UnsafeRawBufferPointer(rebasing: b[0..<length]), limits: limits)
                }
            }.get()
            input.consume(length)
            turn.frames -= 1
            receivedFrames += 1
            try dispatch(frame)
        }
    }

    /// If the frame at the front is a `resourceUpdate` whose range table has
    /// arrived and the delegate gives a target, consumes its header and table
    /// and starts receiving its data into the target.
    private func startUpdate(length: Int) throws(LinkProtocolError) -> Bool {
        let limits = self.limits
        guard let head = try input.withUnconsumed({ (b: UnsafeRawBufferPointer) -> Result<FrameCodec.UpdateHead?, LinkProtocolError> in
            Result { () throws(LinkProtocolError) -> FrameCodec.UpdateHead? in try FrameCodec.decodeUpdateHead(b, limits: limits) }
        }).get() else { return false }
        let found: UpdateTarget?
        if let owner = laneOwner {
            found = try owner.delegate?.link(owner, laneUpdateTargetFor: head.channel, resource: head.resource, ranges: head.ranges)
        } else {
            found = try delegate?.link(self, updateTargetFor: head.channel, resource: head.resource, ranges: head.ranges)
        }
        guard let target = found else { return false }
        if traceFrames {
            Log.trace("\(name) received resourceUpdate(channel \(head.channel), resource \(head.resource), \(head.ranges.count) ranges, \(length - head.headBytes) bytes, into place)")
        }
        // The delegate checked the ranges against the resource; the target's
        // limit is what this side (and a receive thread) holds to.
        if let r = head.ranges.first(where: { !$0.fits(within: target.limit) }) {
            throw .rangeOutsideResource(resource: head.resource, offset: r.offset, length: r.length, size: target.limit)
        }
        input.consume(head.headBytes)
        inbound = Inbound(target: target, progress: UpdateProgress(channel: head.channel, resource: head.resource, ranges: head.ranges,
                                                                   remaining: length - head.headBytes, frameLength: length))
        if length == head.headBytes { finishInbound() }
        return true
    }

    private func dispatch(_ frame: LinkFrame) throws(LinkProtocolError) {
        if traceFrames { Log.trace("\(name) received \(frame.traceLine)") }
        if let owner = laneOwner { return try dispatchOnLane(frame, owner: owner) }
        if !isOpen {
            if case .laneAttach(let token) = frame, role == .host { return try becomeLane(token) }
            guard case .hello(let version, let peerRole, let peerFeatures) = frame else {
                if case .closeLink(_, let reason) = frame { close(reason: "peer refused: \(LogText.escaped(reason))", notifyPeer: false); return }
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
            close(reason: "peer closed the link (code \(code)): \(LogText.escaped(reason))", notifyPeer: false)
        case .laneOffer(let token):
            guard role == .guest, features & LinkFeatures.bulkLane != 0 else { throw .unexpected("laneOffer where no bulk lane was agreed") }
            delegate?.link(self, offersLane: token)
        case .laneAttach:
            throw .unexpected("laneAttach on a link's main connection")
        default:
            try delegate?.link(self, received: frame)
            // What a waiting lane frame may have waited for.
            switch frame {
            case .laneMove, .channelOpen: lane?.laneMayGoOn()
            default: break
            }
        }
    }
}
