import CPorthole
import Glibc

/// The dma-buf syscalls, in one place: a dma-buf's size and the CPU-access
/// bracket (DMA_BUF_IOCTL_SYNC) that every read of its mapping must sit in.
///
/// A dma-buf fd answers lseek(0, SEEK_END) with the buffer's size (its
/// fstat size is not reliable across kernels). Reads of a mapping between
/// START and END see what the device wrote: the exporter flushes or
/// invalidates caches at those points (kernel Documentation/driver-api/dma-buf.rst,
/// "CPU Access").
public enum DmaBuf {
    /// `struct dma_buf_sync { __u64 flags; }` (linux/dma-buf.h): 8 bytes.
    struct SyncRequest {
        var flags: UInt64
    }

    /// Its flags: the access, and whether the bracket starts or ends.
    static let syncRead: UInt64 = 1 << 0
    static let syncWrite: UInt64 = 1 << 1
    static let syncStart: UInt64 = 0
    static let syncEnd: UInt64 = 1 << 2

    /// DMA_BUF_IOCTL_SYNC = _IOW('b', 0, struct dma_buf_sync):
    /// dir write (1) << 30 | size 8 << 16 | 'b' (0x62) << 8 | nr 0.
    static let ioctlSync: UInt = 1 << 30 | UInt(MemoryLayout<SyncRequest>.size) << 16 | 0x62 << 8 | 0

    /// The buffer's size in bytes.
    public static func size(of fd: OwnedFD) throws(SystemError) -> Int {
        let end = try syscall("lseek(SEEK_END) of a dma-buf") { lseek(fd.rawValue, 0, SEEK_END) }
        // A dma-buf only moves to 0 or the end; put it back where it started.
        _ = lseek(fd.rawValue, 0, SEEK_SET)
        return Int(end)
    }

    /// Starts a CPU read of the buffer's mapping.
    public static func beginRead(_ fd: OwnedFD) throws(SystemError) {
        try sync(fd, syncStart | syncRead, "DMA_BUF_IOCTL_SYNC(START|READ)")
    }

    /// Ends the CPU read begun by `beginRead`.
    public static func endRead(_ fd: OwnedFD) throws(SystemError) {
        try sync(fd, syncEnd | syncRead, "DMA_BUF_IOCTL_SYNC(END|READ)")
    }

    /// DMA_BUF_MAGIC (linux/magic.h): the type of the pseudo file system
    /// every dma-buf file lives on.
    static let fileSystemMagic = 0x444D_4142 // "DMAB"

    /// Whether `fd` is a dma-buf, asked of its file system (fstatfs), so no
    /// ioctl ever reaches a file of another kind: the sync ioctl's number
    /// could mean something else to another driver.
    public static func isDmaBuf(_ fd: OwnedFD) -> Bool {
        var st = statfs()
        guard fstatfs(fd.rawValue, &st) == 0 else { return false }
        return Int(st.f_type) == fileSystemMagic
    }

    private static func sync(_ fd: OwnedFD, _ flags: UInt64, _ what: String) throws(SystemError) {
        var request = SyncRequest(flags: flags)
        try syscall(what) { ioctl(fd.rawValue, ioctlSync, &request) }
    }
}
