import Foundation
import Glibc
import Sharing
import SystemTestSupport
import Testing

@Suite struct SharedRegionTests {
    @Test func hostCreatesTheFileAndTheGuestReadsTheSameTag() throws {
        let directory = try TemporaryDirectory(prefix: "porthole-region")
        defer { directory.remove() }
        let path = directory.file("region")
        let host = try SharedRegion.host(path: path, size: 2 << 20)
        #expect(host.size == 2 << 20)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 2 << 20)
        let guest = try SharedRegion.guest(path: path)
        let header = try #require(guest.currentHeader())
        #expect(header == host.writtenHeader)
        #expect(header.size == 2 << 20)
        #expect(guest.dataRange == 4096..<UInt64(2 << 20))
        // A second host start writes a new tag the guest sees at once.
        let again = try SharedRegion.host(path: path, size: nil)
        #expect(again.size == 2 << 20, "an existing file keeps its size")
        #expect(guest.currentHeader()?.tag == again.writtenHeader?.tag)
        #expect(again.writtenHeader?.tag != host.writtenHeader?.tag)
        #expect(guest.isSameFile(host.fd))
    }

    @Test func sizesAreCheckedOnBothSides() throws {
        let directory = try TemporaryDirectory(prefix: "porthole-region")
        defer { directory.remove() }
        let path = directory.file("odd")
        #expect(throws: RegionError.self) { try SharedRegion.host(path: path, size: 3 << 20) }
        #expect(throws: RegionError.self) { try SharedRegion.host(path: path, size: 1 << 19) }
        #expect(throws: RegionError.self) { try SharedRegion.host(path: path, size: 2 << 30) }
        _ = try SharedRegion.host(path: path, size: 1 << 20)
        // Exists with 1 MiB: a different --region-size is refused, naming both.
        do {
            _ = try SharedRegion.host(path: path, size: 4 << 20)
            Issue.record("a size mismatch was accepted")
        } catch {
            #expect(error.description.contains("1048576") && error.description.contains("4194304"), "\(error)")
        }
        let odd = directory.file("odd-guest")
        let fd = open(odd, O_RDWR | O_CREAT, 0o600)
        ftruncate(fd, 3 << 20)
        close(fd)
        #expect(throws: RegionError.self) { try SharedRegion.guest(path: odd) }
        #expect(throws: RegionError.self) { try SharedRegion.guest(path: odd + "-missing") }
    }

    @Test func regionSizesParse() {
        #expect(RegionSize.parse("64M") == 64 << 20)
        #expect(RegionSize.parse("1G") == 1 << 30)
        #expect(RegionSize.parse("512k") == 512 << 10)
        #expect(RegionSize.parse("1048576") == 1 << 20)
        #expect(RegionSize.parse("1073741824") == 1 << 30)
        #expect(RegionSize.parse("") == nil)
        #expect(RegionSize.parse("M") == nil)
        #expect(RegionSize.parse("-1M") == nil)
        #expect(RegionSize.parse("99999999999999G") == nil)
    }

    /// A fake sysfs tree: two PCI devices, one of them ivshmem.
    @Test func pciLookupFindsTheIvshmemDevice() throws {
        let directory = try TemporaryDirectory(prefix: "porthole-region")
        defer { directory.remove() }
        let root = directory.file("devices")
        let fm = FileManager.default
        func device(_ addr: String, vendor: String, device: String, bar: Bool) throws {
            let dir = root + "/" + addr
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try (vendor + "\n").write(toFile: dir + "/vendor", atomically: true, encoding: .utf8)
            try (device + "\n").write(toFile: dir + "/device", atomically: true, encoding: .utf8)
            if bar { _ = fm.createFile(atPath: dir + "/resource2", contents: Data(count: 0)) }
        }
        try device("0000:00:02.0", vendor: "0x1234", device: "0x1111", bar: true)
        try device("0000:00:04.0", vendor: "0x1af4", device: "0x1110", bar: true)
        try device("0000:00:05.0", vendor: "0x1af4", device: "0x1110", bar: false)
        #expect(try PCIDevices.ivshmemMemoryBAR(address: nil, root: root) == root + "/0000:00:04.0/resource2")
        #expect(try PCIDevices.ivshmemMemoryBAR(address: "0000:00:04.0", root: root) == root + "/0000:00:04.0/resource2")
        #expect(throws: RegionError.self) { try PCIDevices.ivshmemMemoryBAR(address: "0000:00:02.0", root: root) }
        #expect(throws: RegionError.self) { try PCIDevices.ivshmemMemoryBAR(address: "0000:00:05.0", root: root) }
        #expect(throws: RegionError.self) { try PCIDevices.ivshmemMemoryBAR(address: nil, root: root + "/nothing") }
        // A BAR file of a size that is not a region is refused when opened.
        let bar = root + "/0000:00:04.0/resource2"
        truncate(bar, 3 << 20)
        #expect(throws: RegionError.self) { try SharedRegion.pci(address: nil, devices: root) }
        truncate(bar, 1 << 20)
        let region = try SharedRegion.pci(address: nil, devices: root)
        #expect(region.size == 1 << 20)
        #expect(region.currentHeader() == nil, "no host wrote a header into this one")
    }
}
