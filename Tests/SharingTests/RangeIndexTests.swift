@testable import Sharing
import Testing

/// The registry's look-ups go through an index, not a scan: the adversary
/// registered 8192 buffers of 64 ranges and made the host scan all 524,288
/// ranges for each create_buffer (200 µs each, 26 s of host CPU for the lot).
@Suite struct RangeIndexTests {
    /// A deterministic generator, so a failure can be replayed.
    struct Numbers {
        var state: UInt64
        mutating func next(_ below: UInt64) -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (state >> 33) % below
        }
    }

    static let area: Range<UInt64> = 4096..<(1 << 30)

    /// `count` buffers of `ranges` ranges each, 64-byte aligned, spread over
    /// a 1 GiB region; buffers overlap each other (as a pool's may).
    static func descriptors(count: Int, ranges: Int, seed: UInt64) -> [BufferDescriptor] {
        var numbers = Numbers(state: seed)
        return (0..<count).map { b in
            var offset = area.lowerBound + numbers.next(1 << 20) * 64
            let list: [MemoryRange] = (0..<ranges).map { _ in
                let length = (1 + numbers.next(64)) * 64
                defer { offset += length + (1 + numbers.next(16)) * 64 }
                return MemoryRange(offset: offset, length: length)
            }
            return BufferDescriptor(id: UInt32(b + 1), application: "flood", ranges: list)
        }
    }

    @Test func lookUpsAmong8192BuffersOf64RangesVisitAFewDozenRangesNotAll() throws {
        var limits = RegistryLimits()
        limits.maxRanges = 8192 * 64
        var registry = BufferRegistry(dataArea: Self.area, limits: limits)
        for d in Self.descriptors(count: 8192, ranges: 64, seed: 1) { try registry.register(d) }
        #expect(registry.rangeCount == 524_288)
        var numbers = Numbers(state: 2)
        var worst = 0
        var total = 0
        var found = 0
        let queries = 20_000
        for _ in 0..<queries {
            let offset = Self.area.lowerBound + numbers.next(1 << 24) * 64
            let (buffer, visited) = registry.index.find(offset: offset, end: offset + 64 * (1 + numbers.next(8)))
            if buffer != nil { found += 1 }
            worst = max(worst, visited)
            total += visited
        }
        // log2(524288) = 19: a balanced path is 19 nodes, a look-up walks at most two paths.
        #expect(worst <= 8 * 19, "worst look-up visited \(worst) of 524288 ranges")
        #expect(total / queries <= 3 * 19, "a look-up visited \(total / queries) ranges on average")
        #expect(found > 0 && found < queries, "hits and misses: \(found) of \(queries)")
    }

    @Test func rangesRegisteredInOrderOfOffsetStillMakeAShallowIndex() {
        // Sorted insertion is what makes a plain search tree a list.
        var index = RangeIndex()
        for i in 0..<65536 { index.insert(MemoryRange(offset: 4096 + UInt64(i) * 64, length: 64), buffer: UInt32(i)) }
        var worst = 0
        for i in stride(from: 0, to: 65536, by: 97) {
            let offset = 4096 + UInt64(i) * 64
            let (buffer, visited) = index.find(offset: offset, end: offset + 64)
            #expect(buffer == UInt32(i))
            worst = max(worst, visited)
        }
        #expect(worst <= 8 * 16, "worst look-up visited \(worst) of 65536 ranges")
    }

    @Test func theIndexAnswersAsAScanWouldThroughRegistrationsAndUnregistrations() throws {
        var limits = RegistryLimits()
        limits.maxRanges = 1 << 20
        var registry = BufferRegistry(dataArea: 4096..<(1 << 22), limits: limits)
        var numbers = Numbers(state: 3)
        let all = Self.descriptors(count: 400, ranges: 8, seed: 4).map { d -> BufferDescriptor in
            // Fold them into a 4 MiB region so that they overlap a lot.
            var d = d
            d.ranges = d.ranges.map { MemoryRange(offset: 4096 + ($0.offset % (1 << 21)), length: $0.length) }
            d.size = d.ranges.reduce(0) { $0 + $1.length }
            return d
        }
        for d in all { try registry.register(d) }
        for d in all where numbers.next(3) == 0 { try registry.unregister(d.id) }
        for _ in 0..<3000 {
            let offset = 4096 + numbers.next(1 << 16) * 64
            let length = 64 * (1 + numbers.next(16))
            let scan = registry.buffers.values.contains { $0.contains(offset: offset, length: length) }
            let hit = registry.buffer(containing: offset, length: length)
            #expect((hit != nil) == scan, "[\(offset), +\(length)): index \(hit?.id ?? 0), scan \(scan)")
            if let hit { #expect(hit.contains(offset: offset, length: length)) }
        }
        registry.reset()
        #expect(registry.rangeCount == 0 && registry.buffer(containing: 4096, length: 64) == nil)
    }
}
