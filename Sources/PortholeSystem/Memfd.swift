import CPorthole
import Glibc

/// Anonymous shared memory files (memfd_create) and their seals.
public enum Memfd {
    /// Seals that can be added to a memfd.
    public struct Seals: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let seal = Seals(rawValue: porthole_seal_seal)
        public static let shrink = Seals(rawValue: porthole_seal_shrink)
        public static let grow = Seals(rawValue: porthole_seal_grow)
        public static let write = Seals(rawValue: porthole_seal_write)
        /// No new writable shared mapping and no write(2); mappings made
        /// before the seal stay writable (Linux 5.1).
        public static let futureWrite = Seals(rawValue: porthole_seal_future_write)
    }

    /// Creates a sealable memfd of `size` bytes (zero-filled).
    public static func create(name: String, size: Int) throws(SystemError) -> OwnedFD {
        let raw = try syscall("memfd_create \(name)") { porthole_memfd_create(name) }
        let fd = OwnedFD(raw)
        try resize(fd, to: size)
        return fd
    }

    /// Sets the file size (ftruncate).
    public static func resize(_ fd: OwnedFD, to size: Int) throws(SystemError) {
        let raw = fd.rawValue
        try syscall("ftruncate \(raw) to \(size)") { ftruncate(raw, off_t(size)) }
    }

    /// Adds `seals` to the memfd.
    public static func addSeals(_ fd: OwnedFD, _ seals: Seals) throws(SystemError) {
        let raw = fd.rawValue
        try syscall("F_ADD_SEALS") { porthole_add_seals(raw, seals.rawValue) }
    }

    /// The seals currently on `fd`.
    public static func seals(of fd: OwnedFD) throws(SystemError) -> Seals {
        let raw = fd.rawValue
        return Seals(rawValue: UInt32(try syscall("F_GET_SEALS") { porthole_get_seals(raw) }))
    }
}
