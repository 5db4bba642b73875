import PortholeSystem

/// A buffer of a guest's shared region as consumers not trusted with that
/// region see it: a memfd of its own holding a copy, sealed like a
/// producer's memfd (no one but the service writes it), brought up to date
/// at every update by copying the damaged bytes from the region. The copy
/// reads the region with pread, so a region file that shrank gives a short
/// read, never a fault.
final class RegionCopy {
    let file: OwnedFD
    private let mapping: SharedMapping
    let size: Int

    /// A copy of the `size` bytes at `offset` of `region`, whole.
    init(region: OwnedFD, offset: UInt64, size: Int) throws(SystemError) {
        let fd = try Memfd.create(name: "porthole-region-copy", size: size)
        mapping = try SharedMapping(fd: fd, size: size)
        // The mapping above predates the seal and keeps writing.
        try Memfd.addSeals(fd, [.shrink, .grow, .futureWrite, .seal])
        file = fd
        self.size = size
        _ = copy(from: region, at: offset, spans: [(0, size)])
    }

    /// Copies `spans` (from the buffer's start) of the buffer at `offset` of
    /// `region`; returns the bytes copied.
    @discardableResult
    func copy(from region: OwnedFD, at offset: UInt64, spans: [(start: Int, length: Int)]) -> Int {
        var copied = 0
        for s in spans where s.start >= 0 && s.length > 0 && s.start <= size - s.length {
            let target = UnsafeMutableRawBufferPointer(start: mapping.base! + s.start, count: s.length)
            copied += (try? region.read(into: target, at: offset + UInt64(s.start))) ?? 0
        }
        return copied
    }

    /// Closes the memfd (the mapping goes with this object).
    func close() { file.close() }
}
