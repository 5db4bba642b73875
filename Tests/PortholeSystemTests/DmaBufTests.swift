import Glibc
@testable import PortholeSystem
import Testing

/// The dma-buf syscalls on this host, which has no dma-buf: what can be
/// checked without one (a real one is read in `GPUBufferVMTests`).
@Suite struct DmaBufTests {
    @Test func theSyncIoctlNumberIsLinuxsDmaBufIoctlSync() {
        // linux/dma-buf.h: _IOW('b', 0, struct dma_buf_sync), 0x40086200 on x86-64 and arm64.
        #expect(DmaBuf.ioctlSync == 0x4008_6200)
        #expect(MemoryLayout<DmaBuf.SyncRequest>.size == 8)
    }

    @Test func aMemfdAPipeAndADeviceAreNotDmaBufs() throws {
        let fd = try Memfd.create(name: "not-a-dma-buf", size: 8192)
        #expect(!DmaBuf.isDmaBuf(fd))
        #expect(throws: SystemError.self) { try DmaBuf.beginRead(fd) }
        let pipe = try Pipe.make()
        #expect(!DmaBuf.isDmaBuf(pipe.read))
        let null = OwnedFD(open("/dev/null", O_RDONLY | O_CLOEXEC))
        #expect(!DmaBuf.isDmaBuf(null))
    }

    @Test func theSizeComesFromSeekingToTheEnd() throws {
        let fd = try Memfd.create(name: "sized", size: 12288)
        #expect(try DmaBuf.size(of: fd) == 12288)
    }
}
