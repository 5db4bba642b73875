import Foundation
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

    /// A sysfs stand-in: for each (type, features) a cardN whose device is
    /// a PCI function (device 0x1050, as in a QEMU guest with
    /// virtio-gpu-pci) with the virtio device as its child virtioN, or with
    /// `direct` the virtio device itself; and a connector directory
    /// (card0-Virtual-1) to skip. Removed by the caller.
    func fakeSysfs(_ cards: [(type: String, features: String)], direct: Bool = false) throws -> String {
        let root = NSTemporaryDirectory() + "/porthole-drm-\(UUID().uuidString)"
        for (i, c) in cards.enumerated() {
            let pci = "\(root)/card\(i)/device"
            let dir = direct ? pci : "\(pci)/virtio\(i)"
            try FileManager.default.createDirectory(atPath: pci, withIntermediateDirectories: true)
            if !direct { try "0x1050\n".write(toFile: "\(pci)/device", atomically: true, encoding: .utf8) }
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "\(c.type)\n".write(toFile: "\(dir)/device", atomically: true, encoding: .utf8)
            try "\(c.features)\n".write(toFile: "\(dir)/features", atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(atPath: "\(root)/card0-Virtual-1", withIntermediateDirectories: true)
        return root
    }

    func hasVirgl(_ cards: [(type: String, features: String)], direct: Bool = false) throws -> Bool {
        let root = try fakeSysfs(cards, direct: direct)
        defer { try? FileManager.default.removeItem(atPath: root) }
        return DRMDevices.hasVirglDevice(sysfs: root)
    }

    @Test func aVirtioGPUWithVirglIsToldApartFromA2DOneAndFromOtherDevices() throws {
        #expect(try hasVirgl([(type: "0x0010", features: "1100000000000000000000000000000000")]))
        #expect(try !hasVirgl([(type: "0x0010", features: "0100000000000000000000000000000000")]), "virtio-gpu without virgl (2D)")
        #expect(try !hasVirgl([(type: "0x0001", features: "1")]), "a virtio device of another type")
        #expect(try hasVirgl([(type: "0x0001", features: "1"), (type: "0x0010", features: "1")]), "the second card")
        #expect(try hasVirgl([(type: "0x0010", features: "1")], direct: true), "the virtio device as the card's device")
        #expect(try !hasVirgl([(type: "0x0010", features: "0")], direct: true))
        #expect(try !hasVirgl([]), "no device")
        #expect(!DRMDevices.hasVirglDevice(sysfs: "/nonexistent/drm"))
    }
}
