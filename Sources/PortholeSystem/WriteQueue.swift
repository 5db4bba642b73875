import Glibc

/// Outgoing bytes and fds for a non-blocking socket. Fds are attached to the
/// sendmsg that carries the first byte of the message they belong to (never
/// later), at most 28 per sendmsg. The queue is bounded by its owner through
/// `queuedBytes`; it does not drop data itself.
public final class WriteQueue {
    // `@exclusivity(unchecked)`: changed for every message on the loop's
    // thread, and every access is over before any call that could reach
    // back here (no inout pass but to the standard library or a system
    // call, no callback while one is held), so a conflicting
    // access cannot happen. Runtime checks of such properties were a quarter
    // of the proxies' user-space instructions a typing frame
    // (docs/benchmarks.md, "Instructions per typing frame").
    @exclusivity(unchecked) private var bytes: [UInt8] = []
    private var head = 0
    /// Absolute stream offset of `bytes[head]`.
    private var position: UInt64 = 0
    @exclusivity(unchecked) private var fdMarks: [(offset: UInt64, fd: OwnedFD)] = []
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
        if kind == .plain && fdHead < fdMarks.count {
            throw SystemError("fd \(socket.rawValue) is not a socket and cannot carry file descriptors", code: EINVAL)
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
            // A stream that takes nothing of a non-empty write is waited on
            // like a full one rather than retried at once.
            guard case .wrote(let sent) = try write(to: socket, kind: kind, length: length, fds: attach), sent > 0 else { return false }
            for j in fdHead..<i { fdMarks[j].fd.close() }
            fdHead = i
            head += sent
            position += UInt64(sent)
            totalWritten += UInt64(sent)
            compact()
        }
        return true
    }

    /// One write of the first `length` queued bytes: sendmsg with `fds`
    /// attached on a socket, write on a plain stream.
    private func write(to fd: OwnedFD, kind: StreamKind, length: Int, fds: [Int32]) throws(SystemError) -> WriteOutcome {
        let start = head
        return try bytes.withUnsafeBytes { all in
            Result { () throws(SystemError) -> WriteOutcome in
                let chunk = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                return kind == .plain ? try fd.writeSome(chunk) : try Socket.sendSome(fd, chunk, fds: fds)
            }
        }.get()
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
