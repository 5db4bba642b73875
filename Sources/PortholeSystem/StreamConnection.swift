import Glibc

/// How bytes move on a descriptor. Decide once per descriptor (`of(_:)`),
/// then pass it to `WriteQueue.flush` and `ReadBuffer.fill`.
public enum StreamKind: Sendable, Equatable {
    /// A socket: sendmsg and recvmsg, so fds may travel (SCM_RIGHTS).
    case socket
    /// Any other byte stream (a tty, a character device such as a
    /// virtio-serial port, a pipe): read and write; fds never travel.
    case plain

    /// `.socket` if fstat says `fd` is a socket, else `.plain`.
    public static func of(_ fd: OwnedFD) -> StreamKind {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { return .socket }
        return (st.st_mode & S_IFMT) == S_IFSOCK ? .socket : .plain
    }

    /// Writes bytes to a non-socket. Returns bytes written, or 0 if it would block.
    static func write(_ fd: OwnedFD, _ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Int {
        while true {
            let n = Glibc.write(fd.rawValue, bytes.baseAddress, bytes.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
            throw SystemError("write on fd \(fd.rawValue)")
        }
    }

    /// Reads from a non-socket. EIO, what a tty whose other side hung up
    /// (such as a pty master whose slave closed) reports, is end of stream.
    public static func read(_ fd: OwnedFD, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Socket.Received {
        while true {
            let n = Glibc.read(fd.rawValue, buffer.baseAddress, buffer.count)
            if n > 0 { return .bytes(n) }
            if n == 0 || errno == EIO { return .endOfStream }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            throw SystemError("read on fd \(fd.rawValue)")
        }
    }
}

/// Outgoing bytes and fds for a non-blocking socket. Fds are attached to the
/// sendmsg that carries the first byte of the message they belong to (never
/// later), at most 28 per sendmsg. The queue is bounded by its owner through
/// `queuedBytes`; it does not drop data itself.
public final class WriteQueue {
    private var bytes: [UInt8] = []
    private var head = 0
    /// Absolute stream offset of `bytes[head]`.
    private var position: UInt64 = 0
    private var fdMarks: [(offset: UInt64, fd: OwnedFD)] = []
    private var fdHead = 0

    public init() {}

    /// Bytes waiting to be written.
    public var queuedBytes: Int { bytes.count - head }
    /// Whether nothing is waiting.
    public var isEmpty: Bool { queuedBytes == 0 && fdHead == fdMarks.count }
    /// Total bytes written to the socket so far.
    public private(set) var totalWritten: UInt64 = 0

    /// Appends a message and the fds that travel with it.
    public func enqueue(_ message: UnsafeRawBufferPointer, fds: [OwnedFD] = []) {
        let start = position + UInt64(queuedBytes)
        for fd in fds { fdMarks.append((start, fd)) }
        bytes.append(contentsOf: message)
    }

    /// Appends a message given as an array.
    public func enqueue(_ message: [UInt8], fds: [OwnedFD] = []) {
        message.withUnsafeBytes { enqueue($0, fds: fds) }
    }

    /// Writes as much as the socket takes. Returns true when the queue is empty.
    /// A `.plain` stream cannot carry fds: queued fds make it throw EINVAL.
    public func flush(to socket: OwnedFD, kind: StreamKind = .socket) throws(SystemError) -> Bool {
        if kind == .plain {
            guard fdHead == fdMarks.count else {
                throw SystemError("fd \(socket.rawValue) is not a socket and cannot carry file descriptors", code: EINVAL)
            }
            while queuedBytes > 0 {
                let start = head, length = queuedBytes
                let sent = try bytes.withUnsafeBytes { all in
                    Result { () throws(SystemError) -> Int in
                        try StreamKind.write(socket, UnsafeRawBufferPointer(rebasing: all[start..<(start + length)]))
                    }
                }.get()
                if sent == 0 { return false }
                head += sent
                position += UInt64(sent)
                totalWritten += UInt64(sent)
                compact()
            }
            return true
        }
        while queuedBytes > 0 {
            var attach: [Int32] = []
            var i = fdHead
            while i < fdMarks.count && fdMarks[i].offset <= position && attach.count < Socket.maxFdsPerMessage {
                attach.append(fdMarks[i].fd.rawValue)
                i += 1
            }
            var length = queuedBytes
            if i < fdMarks.count {
                // Do not run past a message whose fds have not been attached yet.
                let next = fdMarks[i].offset
                length = next <= position ? 1 : min(length, Int(next - position))
            }
            let start = head
            let sent = try bytes.withUnsafeBytes { all in
                Result { () throws(SystemError) -> Int in
                    try Socket.send(socket, UnsafeRawBufferPointer(rebasing: all[start..<(start + length)]), fds: attach)
                }
            }.get()
            if sent == 0 { return false }
            for j in fdHead..<i { fdMarks[j].fd.close() }
            fdHead = i
            head += sent
            position += UInt64(sent)
            totalWritten += UInt64(sent)
            compact()
        }
        return true
    }

    /// Drops everything queued (closing queued fds).
    public func discard() {
        for j in fdHead..<fdMarks.count { fdMarks[j].fd.close() }
        position += UInt64(queuedBytes)
        bytes.removeAll(keepingCapacity: false)
        head = 0
        fdMarks.removeAll()
        fdHead = 0
    }

    private func compact() {
        if head == bytes.count {
            bytes.removeAll(keepingCapacity: bytes.capacity <= 1 << 20)
            head = 0
        } else if head > 65536 && head > bytes.count / 2 {
            bytes.removeSubrange(0..<head)
            head = 0
        }
        if fdHead > 64 && fdHead > fdMarks.count / 2 {
            fdMarks.removeSubrange(0..<fdHead)
            fdHead = 0
        } else if fdHead == fdMarks.count && fdHead > 0 {
            fdMarks.removeAll(keepingCapacity: true)
            fdHead = 0
        }
    }
}

/// Incoming bytes and fds from a non-blocking socket, accumulated until a
/// parser consumes them. The storage is received into directly and keeps its
/// capacity: a stream of large frames allocates nothing per frame.
public final class ReadBuffer {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var head = 0
    private var tail = 0
    /// Fds received and not yet consumed, in order.
    public var fds: [OwnedFD] = []
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

    /// Reads what the socket has, up to `limit` bytes. Returns false at end of
    /// stream. A `.plain` stream is read with read(2) and never yields fds.
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
