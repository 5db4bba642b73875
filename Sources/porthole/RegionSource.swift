import ArgumentParser
import Sharing

/// Where the guest finds the memory it shares with the host (`--region`):
/// a file (the host's --region file, same machine), `pci` (the VM's first
/// ivshmem device) or `pci:ADDR` (the ivshmem device at that PCI address).
enum RegionSource: CommandLineValue, CustomStringConvertible {
    case file(path: String)
    /// `address` nil: the first ivshmem device found.
    case pci(address: String?)

    static func parse(_ text: String) throws -> RegionSource {
        if text == "pci" { return .pci(address: nil) }
        if text.hasPrefix("pci:") {
            let address = String(text.dropFirst(4))
            guard !address.isEmpty else {
                throw ValidationError("no PCI address after 'pci:' (e.g. pci:0000:00:04.0; 'pci' alone takes the first ivshmem device)")
            }
            return .pci(address: address)
        }
        guard !text.isEmpty else { throw ValidationError("empty file path") }
        return .file(path: text)
    }

    /// Maps the region.
    func open() throws(RegionError) -> SharedRegion {
        switch self {
        case .file(let path): return try SharedRegion.guest(path: path)
        case .pci(let address): return try SharedRegion.pci(address: address)
        }
    }

    /// As it was given on the command line.
    var description: String {
        switch self {
        case .file(let path): return path
        case .pci(nil): return "pci"
        case .pci(let address?): return "pci:\(address)"
        }
    }
}
