import Glibc

// Stand-in until the one-place branch lands its versions of these.
public enum WriteOutcome: Equatable, Sendable {
    case wrote(Int)
    case wouldBlock
}

extension OwnedFD {
    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Socket.Received {
        while true {
            let n = Glibc.read(rawValue, buffer.baseAddress, buffer.count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .endOfStream }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            throw SystemError("read on fd \(rawValue)")
        }
    }

    public func writeSome(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> WriteOutcome {
        while true {
            let n = Glibc.write(rawValue, bytes.baseAddress, bytes.count)
            if n >= 0 { return .wrote(n) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            throw SystemError("write on fd \(rawValue)")
        }
    }

    public func readContents(count: Int) throws(SystemError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { pread(rawValue, $0.baseAddress! + done, count - done, off_t(done)) }
            if n > 0 { done += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n == 0 { throw SystemError("short read of fd \(rawValue): \(done) of \(count) bytes", code: EIO) }
            throw SystemError("pread on fd \(rawValue)")
        }
        return out
    }
}
