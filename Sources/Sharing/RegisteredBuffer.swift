/// A buffer the registry accepted.
public struct RegisteredBuffer: Equatable, Sendable {
    public let id: UInt32
    public let size: UInt64
    public let application: String
    /// Sorted by offset, non-overlapping, inside the region's data area.
    public let ranges: [MemoryRange]
    /// Free-form properties by name.
    public let properties: [String: String]

    /// Whether `[offset, offset + length)` lies inside one of the ranges.
    public func contains(offset: UInt64, length: UInt64) -> Bool {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow else { return false }
        return ranges.contains { $0.offset <= offset && end <= $0.offset + $0.length }
    }
}
