/// The first bytes of a shared region, written by the host proxy when it
/// starts. The guest reads them back and reports the tag in the link
/// handshake, which proves both proxies map the same memory (a stale file or
/// the wrong PCI device gives a different tag).
///
/// Layout (little-endian), inside the first page, which never holds buffers:
///
/// | offset | size | field |
/// |---:|---:|---|
/// | 0 | 4 | magic `0x47524850` ("PHRG") |
/// | 4 | 4 | layout version (1) |
/// | 8 | 8 | region size in bytes |
/// | 16 | 16 | tag: random bytes, new on every host start |
public struct RegionHeader: Equatable, Sendable {
    /// "PHRG" read as a little-endian u32.
    public static let magic: UInt32 = 0x4752_4850
    /// Layout version of this header.
    public static let version: UInt32 = 1
    /// Bytes the header reserves at the start of the region; buffers live after it.
    public static let reservedBytes = 4096
    /// Bytes of the encoded header.
    public static let encodedSize = 32

    /// Region size the host announced.
    public var size: UInt64
    /// 16 random bytes identifying this host start.
    public var tag: [UInt8]

    public init(size: UInt64, tag: [UInt8]) {
        precondition(tag.count == 16, "a region tag is 16 bytes")
        self.size = size
        self.tag = tag
    }

    /// Writes the header at `base`.
    public func write(to base: UnsafeMutableRawPointer) {
        base.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        base.storeBytes(of: Self.version.littleEndian, toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: size.littleEndian, toByteOffset: 8, as: UInt64.self)
        for (i, b) in tag.enumerated() { base.storeBytes(of: b, toByteOffset: 16 + i, as: UInt8.self) }
    }

    /// Reads a header at `base`, or nil if none was written there.
    public static func read(from base: UnsafeRawPointer) -> RegionHeader? {
        let magic = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        let version = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        guard magic == Self.magic, version == Self.version else { return nil }
        let size = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let tag = (0..<16).map { base.load(fromByteOffset: 16 + $0, as: UInt8.self) }
        return RegionHeader(size: size, tag: tag)
    }

    /// The tag as hex, for logs and error messages.
    public var tagHex: String { Self.hex(tag) }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { b in
            let s = String(b, radix: 16)
            return b < 16 ? "0" + s : s
        }.joined()
    }
}
