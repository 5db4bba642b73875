import PortholeSystem

/// Why a shared region cannot be used.
public enum RegionError: Error, CustomStringConvertible, Equatable {
    /// A size that is not a power of two in the allowed range.
    case badSize(path: String, size: Int, why: String)
    /// A system call on the region failed.
    case system(path: String, SystemError)
    /// `--region pci` found no ivshmem device (or not the one named).
    case noDevice(String)
    /// The region holds no header: the host proxy has not initialised it.
    case noHeader(path: String)
    /// The header names a size other than the mapping's.
    case headerMismatch(path: String, header: UInt64, mapped: Int)

    public var description: String {
        switch self {
        case .badSize(let path, let size, let why): return "region \(path): size \(size) bytes: \(why)"
        case .system(let path, let e): return "region \(path): \(e)"
        case .noDevice(let why): return why
        case .noHeader(let path): return "region \(path) holds no Porthole header: is the host proxy running with --region on the same memory?"
        case .headerMismatch(let path, let header, let mapped):
            return "region \(path): header says \(header) bytes, but \(mapped) bytes are mapped"
        }
    }
}
