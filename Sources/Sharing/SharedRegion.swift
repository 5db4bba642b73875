import Glibc
import PortholeSystem

/// Memory both proxies map: a file on this machine (the same file QEMU is
/// given for `memory-backend-file,share=on`), or, inside a QEMU guest, BAR 2
/// of an ivshmem-plain device. Buffers are offsets into it.
///
/// The host maps only the header page: it writes the tag and otherwise never
/// touches the memory (it hands the fd to the compositor). The guest maps all
/// of it, because it writes pixels there.
public final class SharedRegion {
    /// Where the region came from, for messages.
    public let path: String
    /// The open region; dup'd for compositors and cooperative clients.
    public let fd: OwnedFD
    /// Size in bytes (a power of two).
    public let size: Int
    /// The writable mapping: the whole region on the guest, the header page on the host.
    public let mapping: SharedMapping
    /// Device and inode of the file, to recognise a client's fd for the same memory.
    public let identity: (device: UInt64, inode: UInt64)
    /// The header this host wrote (host side only).
    public let writtenHeader: RegionHeader?

    private init(path: String, fd: OwnedFD, size: Int, mappedBytes: Int, header: RegionHeader?) throws(RegionError) {
        self.path = path
        self.fd = fd
        self.size = size
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw .system(path: path, SystemError("fstat")) }
        identity = (UInt64(st.st_dev), UInt64(st.st_ino))
        do { mapping = try SharedMapping(fd: fd, size: mappedBytes) } catch { throw .system(path: path, error) }
        writtenHeader = header
        if let header { header.write(to: mapping.base!) }
    }

    /// Bytes buffers may use: everything after the header page.
    public var dataRange: Range<UInt64> { UInt64(RegionHeader.reservedBytes)..<UInt64(size) }

    /// The host's region: opens or creates the file at `path`. A new (or
    /// empty) file is sized to `size` (default 64 MiB); an existing one keeps
    /// its size, which must equal `size` when given. Writes a fresh header.
    public static func host(path: String, size: Int?) throws(RegionError) -> SharedRegion {
        let raw = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard raw >= 0 else { throw .system(path: path, SystemError("open")) }
        let fd = OwnedFD(raw)
        let existing: Int
        do { existing = try fd.fileSize() } catch { throw .system(path: path, error) }
        var chosen = existing
        if existing == 0 {
            chosen = size ?? RegionSize.defaultSize
            if let why = RegionSize.problem(chosen) { throw .badSize(path: path, size: chosen, why: why) }
            guard ftruncate(fd.rawValue, off_t(chosen)) == 0 else { throw .system(path: path, SystemError("ftruncate \(chosen)")) }
        } else if let size, size != existing {
            throw .badSize(path: path, size: existing, why: "the file exists with this size, but --region-size asks for \(size)")
        }
        if let why = RegionSize.problem(chosen) { throw .badSize(path: path, size: chosen, why: why) }
        let tag = RandomBytes.make(16)
        return try SharedRegion(path: path, fd: fd, size: chosen, mappedBytes: RegionHeader.reservedBytes,
                                header: RegionHeader(size: UInt64(chosen), tag: tag))
    }

    /// The guest's view of a region file (same machine, or a file the VM shares).
    public static func guest(path: String) throws(RegionError) -> SharedRegion {
        let raw = open(path, O_RDWR | O_CLOEXEC)
        guard raw >= 0 else { throw .system(path: path, SystemError("open")) }
        return try guest(fd: OwnedFD(raw), path: path)
    }

    /// The guest's view of an ivshmem device's shared memory BAR
    /// (`address` nil: the first device found).
    public static func pci(address: String?, devices: String = PCIDevices.sysfsRoot) throws(RegionError) -> SharedRegion {
        let bar = try PCIDevices.ivshmemMemoryBAR(address: address, root: devices)
        let raw = open(bar, O_RDWR | O_CLOEXEC)
        guard raw >= 0 else { throw .system(path: bar, SystemError("open")) }
        return try guest(fd: OwnedFD(raw), path: bar)
    }

    private static func guest(fd: OwnedFD, path: String) throws(RegionError) -> SharedRegion {
        let size: Int
        do { size = try fd.fileSize() } catch { throw .system(path: path, error) }
        if let why = RegionSize.problem(size) { throw .badSize(path: path, size: size, why: why) }
        return try SharedRegion(path: path, fd: fd, size: size, mappedBytes: size, header: nil)
    }

    /// The header as it is in memory now (the guest reads it at each link,
    /// since the host writes a new tag whenever it starts).
    public func currentHeader() -> RegionHeader? {
        RegionHeader.read(from: UnsafeRawPointer(mapping.base!))
    }

    /// Whether `fd` refers to this region's file.
    public func isSameFile(_ other: OwnedFD) -> Bool {
        var st = stat()
        guard fstat(other.rawValue, &st) == 0 else { return false }
        return UInt64(st.st_dev) == identity.device && UInt64(st.st_ino) == identity.inode
    }

    /// A pointer to `offset` in the guest's mapping; the caller checked the range.
    public func pointer(at offset: UInt64) -> UnsafeMutableRawPointer {
        precondition(offset < UInt64(mapping.size), "region offset outside the mapping")
        return mapping.base! + Int(offset)
    }
}
