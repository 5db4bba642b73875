/// Hands out page-aligned extents of a region. Free space is a list of
/// extents sorted by offset; freeing merges an extent with its neighbours, so
/// churn cannot leave the region split into ever smaller pieces, and
/// allocation takes the smallest extent that fits (best fit), which keeps
/// large extents whole for large buffers.
public struct RegionAllocator {
    /// One run of bytes: offset and length.
    public struct Extent: Equatable, Sendable {
        public var offset: UInt64
        public var length: UInt64
        public var end: UInt64 { offset + length }
        public init(offset: UInt64, length: UInt64) {
            self.offset = offset
            self.length = length
        }
    }

    /// The bytes this allocator manages.
    public let bounds: Range<UInt64>
    /// Every allocation's offset and length are multiples of this.
    public let granularity: UInt64
    /// Free extents, sorted by offset, never adjacent to each other.
    public private(set) var free: [Extent]
    /// Allocated extents by offset.
    public private(set) var allocated: [UInt64: UInt64] = [:]

    /// Manages `bounds`, shrunk inward to whole granules.
    public init(bounds: Range<UInt64>, granularity: UInt64 = 4096) {
        precondition(granularity > 0 && granularity & (granularity - 1) == 0, "granularity must be a power of two")
        let start = (bounds.lowerBound + granularity - 1) & ~(granularity - 1)
        let end = max(start, bounds.upperBound & ~(granularity - 1))
        self.bounds = start..<end
        self.granularity = granularity
        free = end > start ? [Extent(offset: start, length: end - start)] : []
    }

    /// Bytes not allocated.
    public var freeBytes: UInt64 { free.reduce(0) { $0 + $1.length } }
    /// The largest single allocation that would succeed now.
    public var largestFree: UInt64 { free.map(\.length).max() ?? 0 }
    /// Bytes allocated.
    public var allocatedBytes: UInt64 { allocated.values.reduce(0, +) }

    /// `size` rounded up to whole granules, or nil for 0 or an overflow.
    public func rounded(_ size: UInt64) -> UInt64? {
        guard size > 0, size <= UInt64.max - granularity else { return nil }
        return (size + granularity - 1) & ~(granularity - 1)
    }

    /// Allocates at least `size` bytes; returns the offset, or nil if no free
    /// extent is large enough.
    public mutating func allocate(_ size: UInt64) -> UInt64? {
        guard let need = rounded(size) else { return nil }
        var best: Int?
        for (i, e) in free.enumerated() where e.length >= need {
            if best == nil || e.length < free[best!].length {
                best = i
                if e.length == need { break }
            }
        }
        guard let i = best else { return nil }
        let offset = free[i].offset
        if free[i].length == need {
            free.remove(at: i)
        } else {
            free[i].offset += need
            free[i].length -= need
        }
        allocated[offset] = need
        return offset
    }

    /// Size of the allocation at `offset`, if there is one.
    public func allocationSize(at offset: UInt64) -> UInt64? { allocated[offset] }

    /// Grows the allocation at `offset` to at least `newSize` bytes in place,
    /// if the extent right after it is free and large enough.
    public mutating func extend(at offset: UInt64, to newSize: UInt64) -> Bool {
        guard let current = allocated[offset], let need = rounded(newSize) else { return false }
        if need <= current { return true }
        let end = offset + current
        let i = insertionIndex(end)
        guard i < free.count, free[i].offset == end, free[i].length >= need - current else { return false }
        let extra = need - current
        if free[i].length == extra {
            free.remove(at: i)
        } else {
            free[i].offset += extra
            free[i].length -= extra
        }
        allocated[offset] = need
        return true
    }

    /// Frees the allocation at `offset`. Returns false if there is none.
    @discardableResult
    public mutating func release(_ offset: UInt64) -> Bool {
        guard let length = allocated.removeValue(forKey: offset) else { return false }
        var extent = Extent(offset: offset, length: length)
        var i = insertionIndex(offset)
        if i > 0, free[i - 1].end == extent.offset {
            extent.offset = free[i - 1].offset
            extent.length += free[i - 1].length
            free.remove(at: i - 1)
            i -= 1
        }
        if i < free.count, free[i].offset == extent.end {
            extent.length += free[i].length
            free.remove(at: i)
        }
        free.insert(extent, at: i)
        return true
    }

    /// Frees everything.
    public mutating func reset() {
        allocated.removeAll()
        free = bounds.isEmpty ? [] : [Extent(offset: bounds.lowerBound, length: UInt64(bounds.count))]
    }

    /// Index of the first free extent at or after `offset`.
    private func insertionIndex(_ offset: UInt64) -> Int {
        var lo = 0, hi = free.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if free[mid].offset < offset { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
