import Glibc

/// Incoming bytes and fds from a non-blocking socket, accumulated until a
/// parser consumes them. The storage is received into directly and keeps its
/// capacity: a stream of large frames allocates nothing per frame.
public final class ReadBuffer {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var head = 0
    private var tail = 0
    /// Fds received and not yet consumed, in order.
    // `@exclusivity(unchecked)`: see `bytes` in WriteQueue (the one inout
    // pass is to `Socket.receive`, a system call).
    @exclusivity(unchecked) public var fds: [OwnedFD] = []
    /// Free space made available before each receive.
    static let receiveChunk = 65536
    /// Storage above this size is given back once the buffer is empty.
    static let keptCapacity = 8 << 20

    public init() {
        capacity = Self.receiveChunk * 2
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Unconsumed byte count.
    public var count: Int { tail - head }

    /// Makes room for at least `n` more bytes after `tail`.
    private func reserve(_ n: Int) {
        if tail + n <= capacity { return }
        if head > 0 {
            // Move the unconsumed bytes to the front.
            if tail > head { memmove(storage, storage + head, tail - head) }
            tail -= head
            head = 0
            if tail + n <= capacity { return }
        }
        var newCapacity = capacity
        while tail + n > newCapacity { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if tail > 0 { grown.copyMemory(from: storage, byteCount: tail) }
        storage.deallocate()
        storage = grown
        capacity = newCapacity
    }

    /// Reads what the socket has, up to `limit` bytes, until a read returns
    /// less than it asked for. Returns false at end of stream. A `.plain`
    /// stream is read with read(2) and never yields fds.
    public func fill(from socket: OwnedFD, limit: Int = 1 << 20, kind: StreamKind = .socket) throws(SystemError) -> Bool {
        var total = 0
        while total < limit {
            reserve(min(Self.receiveChunk, limit - total))
            let want = min(capacity - tail, limit - total)
            let into = UnsafeMutableRawBufferPointer(start: storage + tail, count: want)
            let r: Socket.Received
            if kind == .plain {
                r = try StreamKind.read(socket, into: into)
            } else {
                r = try Socket.receive(socket, into: into, fds: &fds)
            }
            switch r {
            case .bytes(let n):
                tail += n
                total += n
                // Less than asked for: the queue was empty a moment ago. Ask
                // again on the next readiness (every registration is
                // level-triggered) rather than with a read that would block.
                if n < want { return true }
            case .wouldBlock: return true
            case .endOfStream: return false
            }
        }
        return true
    }

    /// Appends bytes directly (tests, or data that arrived another way).
    public func append(_ data: some Collection<UInt8>) {
        reserve(data.count)
        UnsafeMutableRawBufferPointer(start: storage + tail, count: data.count).copyBytes(from: data)
        tail += data.count
    }

    /// Calls `body` with the unconsumed bytes.
    public func withUnconsumed<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage + head, count: tail - head))
    }

    /// Marks `n` bytes as consumed.
    public func consume(_ n: Int) {
        precondition(n >= 0 && n <= count, "consume past the received bytes")
        head += n
        if head == tail {
            head = 0
            tail = 0
            if capacity > Self.keptCapacity {
                storage.deallocate()
                capacity = Self.receiveChunk * 2
                storage = .allocate(byteCount: capacity, alignment: 16)
            }
        }
    }

    /// Takes the oldest `n` fds, or nil if fewer have arrived.
    public func takeFds(_ n: Int) -> [OwnedFD]? {
        guard n <= fds.count else { return nil }
        let taken = Array(fds[0..<n])
        fds.removeFirst(n)
        return taken
    }
}
