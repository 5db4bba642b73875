import Glibc

/// Byte I/O on a descriptor that is not read as a socket (a pipe, a tty, a
/// character device, a file), one system call per function. Results are
/// values: a non-blocking descriptor that has nothing to give or no room is
/// `.wouldBlock`, never an error or a count of 0.
extension OwnedFD {
    /// One read(2) into `buffer`: `.bytes(n)`, `.wouldBlock` (EAGAIN) or
    /// `.endOfStream` (0 bytes: every writer has closed). Interrupted
    /// calls are retried; other failures are thrown.
    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Socket.Received {
        let fd = rawValue
        return try Socket.Received.retrying("read on fd \(fd)") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// One write(2) of `bytes`: how many were taken, or `.wouldBlock`
    /// (EAGAIN). Interrupted calls are retried; other failures are thrown
    /// with their errno, EPIPE included (a pipe whose reader has closed).
    /// That write also raises SIGPIPE, which ends the process unless it is
    /// ignored: the porthole commands ignore it.
    public func writeSome(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> WriteOutcome {
        let fd = rawValue
        return try WriteOutcome.retrying("write on fd \(fd)") { Glibc.write(fd, bytes.baseAddress, bytes.count) }
    }

    /// One gather write of the buffers of `iov`, in order: sendmsg
    /// (MSG_NOSIGNAL) on a socket, writev on a plain stream. How many bytes
    /// were taken, across the buffers, or `.wouldBlock`.
    public func writeSome(gathering iov: UnsafeBufferPointer<iovec>, kind: StreamKind) throws(SystemError) -> WriteOutcome {
        switch kind {
        case .socket:
            return try Socket.sendSome(self, gathering: iov)
        case .plain:
            let fd = rawValue
            return try WriteOutcome.retrying("writev on fd \(fd)") { writev(fd, iov.baseAddress, Int32(iov.count)) }
        }
    }

    /// The first `count` bytes of the file, read with pread from offset 0
    /// (the file position is left alone). A file shorter than `count`
    /// throws, saying how many bytes it had.
    public func readContents(count: Int) throws(SystemError) -> [UInt8] {
        precondition(count >= 0, "readContents of a negative count")
        let fd = rawValue
        var content = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = try syscall("pread \(count) bytes of fd \(fd)") {
                content.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(done)) }
            }
            guard n > 0 else {
                throw SystemError("read \(count) bytes of fd \(fd): the file ends after \(done)", code: ENODATA)
            }
            done += n
        }
        return content
    }

    /// Fills `buffer` from `offset` of the file with pread (the file
    /// position is left alone), as far as the file goes; returns the bytes
    /// read (fewer at the file's end).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(SystemError) -> Int {
        let fd = rawValue
        var done = 0
        while done < buffer.count {
            let n = try syscall("pread \(buffer.count) bytes of fd \(fd) at \(offset)") {
                pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            guard n > 0 else { break }
            done += n
        }
        return done
    }
}
