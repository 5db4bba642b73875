import PortholeSystem

/// The stamp `porthole share publish` puts at the start of every frame it
/// publishes, so that any consumer (in any language, see
/// Tests/IntegrationTests/Consumers/consumer.c) can check that the bytes it
/// reads are the frame the update announced, whole (docs/buffer-sharing.md §6).
/// 32 bytes, little-endian:
///
/// | offset | size | field |
/// |---:|---:|---|
/// | 0 | 4 | magic 0x52464850 ("PHFR") |
/// | 4 | 4 | sequence: the one presented with this content |
/// | 8 | 8 | the producer's CLOCK_MONOTONIC at present, nanoseconds |
/// | 16 | 8 | checksum of every byte after the stamp |
/// | 24 | 8 | reserved, 0 |
///
/// The checksum reads the bytes after the stamp as little-endian u64 words
/// (the last one padded with zeros): h = 0xcbf29ce484222325, then for each
/// word w, h = (h xor w) * 0x100000001b3 (mod 2^64).
public enum FrameStamp {
    public static let bytes = 32
    public static let magic: UInt32 = 0x5246_4850

    /// What a stamp says.
    public struct Stamp: Equatable, Sendable {
        public var sequence: UInt32
        public var time: UInt64
        public var checksum: UInt64
    }

    /// Writes the stamp for `sequence` into the first bytes of the frame at
    /// `base` (`size` bytes, at least `bytes`), over the checksum of the rest.
    /// `time`: the producer's clock, by default now, once the sum is made.
    public static func stamp(_ base: UnsafeMutableRawPointer, size: Int, sequence: UInt32, time: UInt64? = nil) {
        let sum = checksum(UnsafeRawPointer(base) + bytes, count: size - bytes)
        let time = time ?? MonotonicClock.nanoseconds()
        base.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        base.storeBytes(of: sequence.littleEndian, toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: time.littleEndian, toByteOffset: 8, as: UInt64.self)
        base.storeBytes(of: sum.littleEndian, toByteOffset: 16, as: UInt64.self)
        base.storeBytes(of: UInt64(0), toByteOffset: 24, as: UInt64.self)
    }

    /// The stamp of the frame at `base`, nil without the magic.
    public static func read(_ base: UnsafeRawPointer, size: Int) -> Stamp? {
        guard size >= bytes, UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic else { return nil }
        return Stamp(sequence: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
                     time: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                     checksum: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
    }

    /// Whether the frame at `base` carries a stamp of `sequence` whose
    /// checksum matches the bytes after it.
    public static func verify(_ base: UnsafeRawPointer, size: Int, sequence: UInt32) -> Bool {
        guard let s = read(base, size: size), s.sequence == sequence else { return false }
        return s.checksum == checksum(base + bytes, count: size - bytes)
    }

    /// The checksum described above of `count` bytes at `p`.
    public static func checksum(_ p: UnsafeRawPointer, count: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let words = count / 8
        for i in 0..<words {
            h = (h ^ UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) &* 0x100_0000_01b3
        }
        let tail = count - words * 8
        if tail > 0 {
            var last: UInt64 = 0
            for j in 0..<tail { last |= UInt64(p.load(fromByteOffset: words * 8 + j, as: UInt8.self)) << (8 * UInt64(j)) }
            h = (h ^ last) &* 0x100_0000_01b3
        }
        return h
    }
}
