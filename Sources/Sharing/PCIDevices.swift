import Glibc
import PortholeSystem

/// Finds an ivshmem device (PCI 1af4:1110) in sysfs. Its BAR 2 is the shared
/// memory; sysfs exposes it as the mappable file `resource2`.
public enum PCIDevices {
    public static let sysfsRoot = "/sys/bus/pci/devices"
    static let vendor = "0x1af4"
    static let device = "0x1110"

    /// The `resource2` path of the device at `address`, or of the first
    /// ivshmem device when `address` is nil.
    public static func ivshmemMemoryBAR(address: String?, root: String = sysfsRoot) throws(RegionError) -> String {
        let candidates: [String]
        if let address {
            guard isIvshmem(root + "/" + address) else {
                throw .noDevice("no ivshmem device (PCI 1af4:1110) at \(address) under \(root)")
            }
            candidates = [address]
        } else {
            candidates = listDirectory(root).sorted().filter { isIvshmem(root + "/" + $0) }
        }
        guard let first = candidates.first else {
            throw .noDevice("no ivshmem device (PCI 1af4:1110) found under \(root); give the VM -device ivshmem-plain,memdev=... or run without --region")
        }
        let bar = root + "/" + first + "/resource2"
        guard access(bar, F_OK) == 0 else { throw .noDevice("ivshmem device \(first) has no memory BAR (\(bar) missing)") }
        return bar
    }

    static func isIvshmem(_ dir: String) -> Bool {
        readFirstLine(dir + "/vendor") == vendor && readFirstLine(dir + "/device") == device
    }

    static func readFirstLine(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), f) != nil else { return nil }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return line.trimmingCharacters(in: "\n \t")
    }

    static func listDirectory(_ path: String) -> [String] { DirectoryListing.names(path) ?? [] }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
