import PortholeSystem
import Wayland

/// The file behind a client's pool: a shared-memory file (wl_shm), or a
/// dma-buf (zwp_linux_dmabuf_v1). The pools read both the same way; a
/// dma-buf's size comes from lseek and every read of it is bracketed by
/// DMA_BUF_IOCTL_SYNC, so the proxy sees what the device wrote.
struct ClientFile {
    let fd: OwnedFD
    let isDmaBuf: Bool

    static func shm(_ fd: OwnedFD) -> ClientFile { ClientFile(fd: fd, isDmaBuf: false) }
    static func dmaBuf(_ fd: OwnedFD) -> ClientFile { ClientFile(fd: fd, isDmaBuf: true) }

    /// Its size now (a shm file may shrink behind the proxy's back; 0 when unknown).
    func size() -> Int {
        (try? (isDmaBuf ? DmaBuf.size(of: fd) : fd.fileSize())) ?? 0
    }

    /// Maps `size` bytes read-only.
    func map(size: Int) throws(SystemError) -> SharedMapping {
        try SharedMapping(fd: fd, size: size, writable: false)
    }

    /// Whether its bytes may be queued on the link by reference and read by
    /// the kernel later: only a shm file sealed against shrinking (a dma-buf
    /// is read inside its sync bracket only, so never).
    func sealedAgainstShrink() -> Bool {
        guard !isDmaBuf else { return false }
        return (try? Memfd.seals(of: fd).contains(.shrink)) ?? false
    }

    /// Runs `body`, which reads the mapping, inside the dma-buf's read bracket.
    func reading<T>(bufferID: UInt32, _ body: () throws(MessageFault) -> T) throws(MessageFault) -> T {
        guard isDmaBuf else { return try body() }
        do { try DmaBuf.beginRead(fd) } catch {
            throw DmabufParamsErrorCode.fault(.invalidWlBuffer, object: bufferID, "cannot start reading the dma-buf: \(error)")
        }
        defer { _ = try? DmaBuf.endRead(fd) }
        return try body()
    }
}
