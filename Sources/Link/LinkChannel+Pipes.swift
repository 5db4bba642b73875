import PortholeSystem

/// Pipe data under credit (docs/link-protocol.md §7.2): a pipe source's
/// bytes go to the peer only as far as its credit and the link allow; a
/// pipe sink takes the peer's bytes as fast as the local reader does, and
/// credit returns as they are written.
extension LinkChannel {
    /// Opens a resource for a local process's pipe write end (a paste
    /// target's): the peer's pipe data for it is written there.
    public func openPipe(writeEnd: OwnedFD) throws(ChannelError) -> UInt32 {
        if let level = channelSet.fds.take(1, keepingFree: channelSet.fdReserve(for: .resource)) {
            throw ChannelError("no room for a pipe: \(level.exhausted(asking: 1))")
        }
        let rid = resources.allocateID()
        try? writeEnd.setNonBlocking()
        do { try resources.addLocal(rid, .pipeSink(PipeSink(writeEnd: writeEnd))) } catch {
            channelSet.fds.give(1)
            throw error
        }
        link.send(.resourceOpen(channel: id, resource: rid, kind: .pipe, size: 0))
        return rid
    }

    /// The peer opened a pipe resource: make the pipe whose write end goes to
    /// the local process, and read what it writes.
    func openPipeSource(_ rid: UInt32) throws(LinkProtocolError) {
        let ends: (read: OwnedFD, write: OwnedFD)
        do { ends = try Pipe.make() } catch {
            channelSet.fds.give(2)
            throw .resourceLimit("cannot create a pipe: \(error)")
        }
        let source = PipeSource(readEnd: ends.read, writeEnd: ends.write)
        try? source.readEnd.setNonBlocking()
        resources.addRemote(rid, .pipeSource(source))
        source.token = try? loop.register(source.readEnd.rawValue, events: .readable) { [unowned self, weak source] _ in
            if let source { self.pumpPipe(rid, source) }
        }
    }

    func receivePipeData(_ rid: UInt32, _ bytes: [UInt8]) throws(LinkProtocolError) {
        if resources.isClosedPipe(rid) {
            // In flight when we closed the pipe: count it through the window and drop it.
            try credit.didReceive(bytes.count, channel: id)
            if credit.didForward(bytes.count) { sendCreditUpdate() }
            return
        }
        guard case .pipeSink(let sink)? = resources[rid] else { throw .unknownResource(channel: id, resource: rid) }
        try credit.didReceive(bytes.count, channel: id)
        sink.queue.append(contentsOf: bytes)
        drainSink(rid, sink)
    }

    func receivePipeClose(_ rid: UInt32) throws(LinkProtocolError) {
        if resources.forgetClosedPipe(rid) { return }
        switch resources[rid] {
        case .pipeSink(let sink)?:
            sink.closeWhenDrained = true
            drainSink(rid, sink)
        case .pipeSource?:
            // Before our end of file: the reader on the other side went away
            // (a paste target that closed its pipe or exited).
            Log.info("\(name): pipe \(rid): the reader on the other side of the link closed it early; closing ours")
            dropResource(rid)
        default:
            throw .unknownResource(channel: id, resource: rid)
        }
    }

    /// Restarts pipe sources that paused for credit or link room. Runs on
    /// every data frame: it looks at the paused pipes only, not at every
    /// resource of the channel (a guest may hold 4096).
    func resumePipes() {
        guard resources.hasPausedPipes else { return }
        for rid in resources.takePausedPipes() {
            if case .pipeSource(let source)? = resources[rid], source.paused {
                source.paused = false
                pumpPipe(rid, source)
            }
        }
    }

    /// Sends what the local writer put into the pipe, as far as credit and the link allow.
    private func pumpPipe(_ rid: UInt32, _ source: PipeSource) {
        guard !isClosed, case .pipeSource(let current)? = resources[rid], current === source else { return }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            // A unit never exceeds a quarter of the peer's buffer (CreditWindow's rule).
            let room = min(credit.peerFree, Int(limits.channelBuffer / 4), buffer.count)
            if room <= 0 || link.isCongested {
                source.paused = true
                resources.pipePaused(rid)
                if let t = source.token { loop.modify(t, events: []) }
                if room <= 0 { requestCredit() }
                return
            }
            let result: Socket.Received
            do {
                result = try buffer.withUnsafeMutableBytes { b throws(SystemError) in
                    try source.readEnd.readSome(into: UnsafeMutableRawBufferPointer(rebasing: b[0..<room]))
                }
            } catch {
                Log.warning("\(name): pipe \(rid): read failed (\(error)); ending it as at end of file")
                endPipeSource(rid)
                return
            }
            switch result {
            case .bytes(let n):
                credit.didSend(n)
                creditRequested = false
                counters.pipeBytesSent += UInt64(n)
                link.send(.pipeData(channel: id, resource: rid, bytes: Array(buffer[0..<n])))
            case .wouldBlock:
                if let t = source.token { loop.modify(t, events: .readable) }
                return
            case .endOfStream:
                Log.debug("\(name): pipe \(rid): end of file from the local writer")
                endPipeSource(rid)
                return
            }
        }
    }

    private func endPipeSource(_ rid: UInt32) {
        link.send(.pipeClose(channel: id, resource: rid))
        dropResource(rid)
        resources.rememberClosedPipe(rid)
    }

    /// Writes the peer's pipe data into the local reader's pipe.
    private func drainSink(_ rid: UInt32, _ sink: PipeSink) {
        while !sink.queue.isEmpty {
            let outcome: WriteOutcome
            do {
                outcome = try sink.queue.withUnsafeBytes { b throws(SystemError) in try sink.writeEnd.writeSome(b) }
            } catch {
                // The reader went away: drop what is left and tell the peer.
                let dropped = sink.queue.count
                Log.info("\(name): pipe \(rid): the local reader closed it early (\(error)); \(dropped) bytes dropped")
                sink.queue.removeAll()
                if dropped > 0 && credit.didForward(dropped) { sendCreditUpdate() }
                link.send(.pipeClose(channel: id, resource: rid))
                dropResource(rid)
                resources.rememberClosedPipe(rid)
                return
            }
            switch outcome {
            case .wrote(let n):
                sink.queue.removeFirst(n)
                if credit.didForward(n) { sendCreditUpdate() }
            case .wouldBlock:
                if sink.token == nil {
                    sink.token = try? loop.register(sink.writeEnd.rawValue, events: .writable) { [unowned self, weak sink] _ in
                        if let sink { self.drainSink(rid, sink) }
                    }
                }
                return
            }
        }
        if let t = sink.token { loop.unregister(t); sink.token = nil }
        if sink.closeWhenDrained { dropResource(rid) }
    }
}
