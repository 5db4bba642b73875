// The buffer registry through registrations (any ranges, names and
// properties), unregistrations, resets and look-ups, in a small region so
// that ranges overlap: every look-up answers as a scan of the registered
// ranges would, what is registered keeps the registry's rules, and the
// range count is the ranges registered.
import FuzzSupport
import Sharing

var limits = RegistryLimits()
limits.maxBuffers = 64
limits.maxRanges = 256
let area: Range<UInt64> = 4096..<(1 << 20)

runFuzzer { data in
    var input = FuzzInput(data)
    var registry = BufferRegistry(dataArea: area, limits: limits)
    var steps = 0
    while !input.isEmpty && steps < 512 {
        steps += 1
        switch input.below(8) {
        case 0, 1, 2:
            let id = UInt32(input.below(80))
            let count = input.below(10)
            let aligned = input.byte() & 3 != 0
            let ranges = (0..<count).map { _ -> MemoryRange in
                if aligned { return MemoryRange(offset: UInt64(input.u16()) * 64, length: UInt64(input.below(64)) * 64) }
                return MemoryRange(offset: input.u64(), length: input.u64())
            }
            let sum = ranges.reduce(UInt64(0)) { $0 &+ $1.length }
            let size = input.byte() & 7 == 0 ? input.u64() : sum
            let properties = (0..<input.below(4)).map { _ in BufferProperty(name: input.run(upTo: 8), value: input.run(upTo: 8)) }
            let d = BufferDescriptor(id: id, size: size, application: input.run(upTo: 8), ranges: ranges, properties: properties)
            if let b = try? registry.register(d) {
                FuzzCheck(b.size == sum && b.ranges.count == ranges.count, "buffer \(id) registered with other ranges")
                for (x, y) in zip(b.ranges, b.ranges.dropFirst()) {
                    FuzzCheck(x.offset + x.length <= y.offset, "buffer \(id): overlapping ranges registered")
                }
                FuzzCheck(b.ranges.allSatisfy { $0.length > 0 && $0.offset >= area.lowerBound && $0.offset + $0.length <= area.upperBound },
                          "buffer \(id): a range outside the data area")
            }
        case 3:
            _ = try? registry.unregister(UInt32(input.below(80)))
        case 4:
            if input.below(8) == 0 { registry.reset() }
        default:
            let offset = input.byte() & 1 == 0 ? UInt64(input.u16()) * 64 + UInt64(input.below(64)) : input.u64()
            let length = input.byte() & 1 == 0 ? UInt64(input.below(256)) * 16 : input.u64()
            let hit = registry.buffer(containing: offset, length: length)
            let scan = registry.buffers.values.contains { $0.contains(offset: offset, length: length) }
            FuzzCheck((hit != nil) == scan, "[\(offset), +\(length)): the index says \(hit?.id ?? 0), a scan \(scan)")
            if let hit { FuzzCheck(hit.contains(offset: offset, length: length), "buffer \(hit.id) does not hold [\(offset), +\(length))") }
        }
        FuzzCheck(registry.rangeCount == registry.buffers.values.reduce(0) { $0 + $1.ranges.count }, "range count \(registry.rangeCount)")
        FuzzCheck(registry.count <= limits.maxBuffers && registry.rangeCount <= limits.maxRanges, "over the registry's limits")
    }
}
