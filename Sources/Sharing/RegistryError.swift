/// Why a registration, unregistration or look-up was refused.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    case duplicateID(UInt32)
    case unknownID(UInt32)
    case tooManyBuffers(Int)
    case noRanges(UInt32)
    case tooManyRanges(UInt32, count: Int, limit: Int)
    case tooManyRangesRegistered(UInt32, limit: Int)
    case emptyRange(UInt32, MemoryRange)
    case unalignedRange(UInt32, MemoryRange, alignment: UInt64)
    case outsideRegion(UInt32, MemoryRange, data: Range<UInt64>)
    case overlappingRanges(UInt32, MemoryRange, MemoryRange)
    case sizeMismatch(UInt32, declared: UInt64, ranges: UInt64)
    case badApplication(UInt32, String)
    case badProperty(UInt32, String)

    public var description: String {
        switch self {
        case .duplicateID(let id): return "buffer \(id) is already registered"
        case .unknownID(let id): return "buffer \(id) is not registered"
        case .tooManyBuffers(let n): return "more than \(n) buffers registered"
        case .tooManyRangesRegistered(let id, let limit): return "buffer \(id) would make more than \(limit) ranges registered"
        case .noRanges(let id): return "buffer \(id) has no memory ranges"
        case .tooManyRanges(let id, let count, let limit): return "buffer \(id) has \(count) ranges (limit \(limit))"
        case .emptyRange(let id, let r): return "buffer \(id): range \(r) is empty"
        case .unalignedRange(let id, let r, let a): return "buffer \(id): range \(r) is not aligned to \(a) bytes"
        case .outsideRegion(let id, let r, let data):
            return "buffer \(id): range \(r) lies outside the region's buffer area [\(data.lowerBound), \(data.upperBound))"
        case .overlappingRanges(let id, let a, let b): return "buffer \(id): ranges \(a) and \(b) overlap"
        case .sizeMismatch(let id, let declared, let ranges): return "buffer \(id): size \(declared) but its ranges hold \(ranges) bytes"
        case .badApplication(let id, let why): return "buffer \(id): application name \(why)"
        case .badProperty(let id, let why): return "buffer \(id): property \(why)"
        }
    }
}
