/// Bounds on what one guest may register.
public struct RegistryLimits: Sendable {
    public var maxBuffers = 8192
    public var maxRangesPerBuffer = 64
    public var maxProperties = 32
    public var maxNameBytes = 64
    public var maxValueBytes = 256
    public var maxApplicationBytes = 256
    /// Range offsets and lengths are multiples of this (a cache line).
    public var alignment: UInt64 = 64
    public init() {}
}

/// Why a registration, unregistration or look-up was refused.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    case duplicateID(UInt32)
    case unknownID(UInt32)
    case tooManyBuffers(Int)
    case noRanges(UInt32)
    case tooManyRanges(UInt32, count: Int, limit: Int)
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

/// The buffers one guest has registered in a shared region (the semantics of
/// the virtio buffer-sharing device proposal, carried over the link). The
/// host keeps one per link and checks every buffer a compositor is asked to
/// read against it; reset and disconnect drop everything at once.
public struct BufferRegistry {
    /// Where buffers may lie: the region's bytes after its header.
    public let dataArea: Range<UInt64>
    public let limits: RegistryLimits
    public private(set) var buffers: [UInt32: RegisteredBuffer] = [:]

    public init(dataArea: Range<UInt64>, limits: RegistryLimits = RegistryLimits()) {
        self.dataArea = dataArea
        self.limits = limits
    }

    public var count: Int { buffers.count }

    /// Checks `d` completely, then records it.
    @discardableResult
    public mutating func register(_ d: BufferDescriptor) throws(RegistryError) -> RegisteredBuffer {
        guard buffers[d.id] == nil else { throw .duplicateID(d.id) }
        guard buffers.count < limits.maxBuffers else { throw .tooManyBuffers(limits.maxBuffers) }
        let accepted = try validate(d)
        buffers[d.id] = accepted
        return accepted
    }

    /// Forgets buffer `id`.
    @discardableResult
    public mutating func unregister(_ id: UInt32) throws(RegistryError) -> RegisteredBuffer {
        guard let b = buffers.removeValue(forKey: id) else { throw .unknownID(id) }
        return b
    }

    /// Forgets every buffer (the guest's reset, or its disconnect).
    public mutating func reset() { buffers.removeAll() }

    /// A registered buffer containing all of `[offset, offset + length)`.
    public func buffer(containing offset: UInt64, length: UInt64) -> RegisteredBuffer? {
        buffers.values.first { $0.contains(offset: offset, length: length) }
    }

    /// The checks, in the order a reader of an error would want them.
    public func validate(_ d: BufferDescriptor) throws(RegistryError) -> RegisteredBuffer {
        let id = d.id
        guard !d.ranges.isEmpty else { throw .noRanges(id) }
        guard d.ranges.count <= limits.maxRangesPerBuffer else {
            throw .tooManyRanges(id, count: d.ranges.count, limit: limits.maxRangesPerBuffer)
        }
        var total: UInt64 = 0
        for r in d.ranges {
            guard r.length > 0 else { throw .emptyRange(id, r) }
            guard r.offset % limits.alignment == 0, r.length % limits.alignment == 0 else {
                throw .unalignedRange(id, r, alignment: limits.alignment)
            }
            let (end, overflow) = r.offset.addingReportingOverflow(r.length)
            guard !overflow, r.offset >= dataArea.lowerBound, end <= dataArea.upperBound else {
                throw .outsideRegion(id, r, data: dataArea)
            }
            total += r.length
        }
        let sorted = d.ranges.sorted { $0.offset < $1.offset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.offset + a.length > b.offset {
            throw .overlappingRanges(id, a, b)
        }
        guard total == d.size else { throw .sizeMismatch(id, declared: d.size, ranges: total) }
        guard d.application.count <= limits.maxApplicationBytes else {
            throw .badApplication(id, "of \(d.application.count) bytes exceeds \(limits.maxApplicationBytes)")
        }
        guard let application = String(validatingUTF8Bytes: d.application) else { throw .badApplication(id, "is not valid UTF-8") }
        guard d.properties.count <= limits.maxProperties else {
            throw .badProperty(id, "count \(d.properties.count) exceeds \(limits.maxProperties)")
        }
        var properties: [String: String] = [:]
        for p in d.properties {
            guard !p.name.isEmpty, p.name.count <= limits.maxNameBytes,
                  p.name.allSatisfy({ Self.nameBytes.contains($0) }) else {
                throw .badProperty(id, "name must be 1 to \(limits.maxNameBytes) bytes of a-z, A-Z, 0-9, '_', '-', '.'")
            }
            let name = String(decoding: p.name, as: UTF8.self)
            guard p.value.count <= limits.maxValueBytes else {
                throw .badProperty(id, "'\(name)' has a value of \(p.value.count) bytes (limit \(limits.maxValueBytes))")
            }
            guard let value = String(validatingUTF8Bytes: p.value) else { throw .badProperty(id, "'\(name)' is not valid UTF-8") }
            guard properties[name] == nil else { throw .badProperty(id, "'\(name)' appears twice") }
            properties[name] = value
        }
        return RegisteredBuffer(id: id, size: total, application: application, ranges: sorted, properties: properties)
    }

    private static let nameBytes: Set<UInt8> = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.".utf8))
}

extension String {
    /// The text, or nil if `bytes` is not valid UTF-8 (or holds a NUL).
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        guard !bytes.contains(0) else { return nil }
        var it = bytes.makeIterator()
        var decoder = UTF8()
        var out = ""
        loop: while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s): out.unicodeScalars.append(s)
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        self = out
    }
}
