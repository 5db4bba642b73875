import PortholeSystem

/// linux-dmabuf feedback's format table: a file the client maps read-only,
/// of 16-byte entries `{u32 format, u32 padding, u64 modifier}` in native
/// byte order (linux-dmabuf-unstable-v1.xml, format_table). Each format
/// comes with each offered modifier (`DmabufPlane.offered`), in that order.
enum DmabufFormatTable {
    static let entrySize = 16

    /// Entries in a table of `formats`.
    static func count(formats: Int) -> Int { formats * DmabufPlane.offered.count }

    /// The bytes of a table of `formats` (DRM fourccs).
    static func bytes(formats: [UInt32]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count(formats: formats.count) * entrySize)
        for f in formats {
            for modifier in DmabufPlane.offered {
                var entry: (UInt32, UInt32, UInt64) = (f, 0, modifier)
                withUnsafeBytes(of: &entry) { out += $0 }
            }
        }
        return out
    }

    /// A sealed memfd holding the table (clients may map it, never change it).
    static func file(formats: [UInt32]) throws(SystemError) -> OwnedFD {
        let contents = bytes(formats: formats)
        let fd = try Memfd.create(name: "porthole-dmabuf-formats", size: contents.count)
        try fill(fd, with: contents)
        // The write seal needs the writable mapping gone (else EBUSY).
        try Memfd.addSeals(fd, [.shrink, .grow, .write, .seal])
        return fd
    }

    /// Writes `contents` through a mapping that is unmapped on return.
    private static func fill(_ fd: OwnedFD, with contents: [UInt8]) throws(SystemError) {
        let mapping = try SharedMapping(fd: fd, size: contents.count)
        withExtendedLifetime(mapping) {
            guard let base = mapping.base else { return }
            contents.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
    }
}
