/// Reads an input as a sequence of choices: small numbers, words and runs of
/// bytes, giving zeros once the input runs out. Lets a target build
/// structured operations (frames, registrations) from whatever libFuzzer
/// mutates, so that it reaches deep states quickly.
public struct FuzzInput {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var isEmpty: Bool { offset >= bytes.count }
    public var remaining: Int { max(0, bytes.count - offset) }

    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A number in `0..<n` (n > 0).
    public mutating func below(_ n: Int) -> Int { Int(byte()) % max(n, 1) }

    public mutating func u16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }
    public mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    public mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }

    /// Up to `limit` bytes, the count chosen by the input.
    public mutating func run(upTo limit: Int) -> [UInt8] {
        let n = min(Int(u16()) % (limit + 1), remaining)
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }

    /// Everything left.
    public mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return offset < bytes.count ? Array(bytes[offset...]) : []
    }
}
