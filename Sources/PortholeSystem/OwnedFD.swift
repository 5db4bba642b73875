import Glibc

/// A file descriptor this process owns. It is closed exactly once: by `close()`
/// or, failing that, when the last reference goes away.
public final class OwnedFD: CustomStringConvertible {
    private var fd: Int32

    /// Takes ownership of `rawValue`.
    public init(_ rawValue: Int32) {
        precondition(rawValue >= 0, "OwnedFD needs a valid descriptor")
        fd = rawValue
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// The raw descriptor, or -1 once closed.
    public var rawValue: Int32 { fd }

    /// Whether `close()` has run.
    public var isClosed: Bool { fd < 0 }

    /// Closes the descriptor now. Later calls do nothing.
    public func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }

    /// Gives up ownership without closing and returns the descriptor.
    public func release() -> Int32 {
        let r = fd
        fd = -1
        return r
    }

    /// A new descriptor for the same open file (F_DUPFD_CLOEXEC).
    public func duplicate() throws(SystemError) -> OwnedFD {
        let raw = fd
        return OwnedFD(try syscall("dup \(raw)") { fcntl(raw, F_DUPFD_CLOEXEC, 0) })
    }

    /// Size of the file from fstat.
    public func fileSize() throws(SystemError) -> Int {
        var st = stat()
        let raw = fd
        try syscall("fstat \(raw)") { fstat(raw, &st) }
        return Int(st.st_size)
    }

    /// Switches O_NONBLOCK on.
    public func setNonBlocking() throws(SystemError) {
        let raw = fd
        let flags = try syscall("fcntl F_GETFL") { fcntl(raw, F_GETFL) }
        try syscall("fcntl F_SETFL") { fcntl(raw, F_SETFL, flags | O_NONBLOCK) }
    }

    public var description: String { "fd \(fd)" }
}
