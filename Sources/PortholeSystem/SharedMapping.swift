import Glibc

/// A mapping of a file (MAP_SHARED) or of anonymous private memory, unmapped
/// exactly once. Growing remaps it, so pointers taken earlier become invalid.
public final class SharedMapping {
    /// Start of the mapping (nil when the size is 0).
    public private(set) var base: UnsafeMutableRawPointer?
    /// Mapped length in bytes.
    public private(set) var size: Int
    private let fd: Int32
    private let writable: Bool

    /// Maps `size` bytes of `fd` from offset 0. The caller keeps `fd` open for
    /// as long as it wants to grow the mapping.
    public init(fd: OwnedFD, size: Int, writable: Bool = true) throws(SystemError) {
        guard !fd.isClosed else { throw SystemError("mmap of a closed descriptor", code: EBADF) }
        self.fd = fd.rawValue
        self.writable = writable
        self.size = 0
        try map(size)
    }

    /// Anonymous zero-filled private memory of `size` bytes.
    public init(anonymous size: Int) throws(SystemError) {
        self.fd = -1
        self.writable = true
        self.size = 0
        try map(size)
    }

    deinit { unmap() }

    private func map(_ newSize: Int) throws(SystemError) {
        guard newSize > 0 else { base = nil; size = 0; return }
        let prot = writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        let flags = fd < 0 ? (MAP_PRIVATE | MAP_ANONYMOUS) : MAP_SHARED
        let p = mmap(nil, newSize, prot, flags, fd, 0)
        if p == MAP_FAILED || p == nil { throw SystemError("mmap \(newSize) bytes") }
        base = p
        size = newSize
    }

    private func unmap() {
        if let b = base { munmap(b, size) }
        base = nil
        size = 0
    }

    /// Grows the mapping to `newSize` bytes (for a file, after the file grew).
    /// Anonymous memory keeps its contents.
    public func grow(to newSize: Int) throws(SystemError) {
        guard newSize > size else { return }
        if fd < 0, let old = base {
            let oldSize = size
            let p = mmap(nil, newSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            if p == MAP_FAILED || p == nil { throw SystemError("mmap \(newSize) bytes") }
            memcpy(p!, old, oldSize)
            munmap(old, oldSize)
            base = p
            size = newSize
            return
        }
        unmap()
        try map(newSize)
    }

    /// Backs `count` bytes at `address`, which lie in a writable mapping the
    /// caller keeps mapped until this returns, with writable pages now
    /// (MADV_POPULATE_WRITE, Linux 5.14), so that the first writes there do
    /// not fault page by page. The contents do not change. Any thread may
    /// call it: the kernel serialises it with faults and unmaps. From the
    /// page `address` lies in (madvise wants a page-aligned start, else
    /// EINVAL): a mapping starts on a page, so that page is the caller's too.
    public static func populateForWriting(_ address: UnsafeMutableRawPointer, count: Int) throws(SystemError) {
        guard count > 0 else { return }
        let skew = Int(bitPattern: address) % pageSize
        if madvise(address - skew, count + skew, MADV_POPULATE_WRITE) != 0 {
            throw SystemError("madvise(MADV_POPULATE_WRITE) of \(count) bytes")
        }
    }

    /// The kernel's page size.
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// A read-only view of `count` bytes at `offset`; the caller has checked bounds.
    public func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer {
        precondition(offset >= 0 && count >= 0 && offset + count <= size, "mapping access out of bounds")
        return UnsafeRawBufferPointer(start: base.map { $0 + offset }, count: count)
    }
}
