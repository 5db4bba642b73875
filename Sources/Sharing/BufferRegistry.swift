/// The buffers one guest has registered in a shared region (the semantics of
/// the virtio buffer-sharing device proposal, carried over the link). The
/// host keeps one per link and checks every buffer a compositor is asked to
/// read against it; reset and disconnect drop everything at once.
public struct BufferRegistry {
    /// Where buffers may lie: the region's bytes after its header.
    public let dataArea: Range<UInt64>
    public let limits: RegistryLimits
    public private(set) var buffers: [UInt32: RegisteredBuffer] = [:]
    /// Every registered range, for look-ups that do not scan.
    private(set) var index = RangeIndex()
    /// Ranges of all registered buffers together (held to `limits.maxRanges`).
    public var rangeCount: Int { index.count }

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
        guard rangeCount + d.ranges.count <= limits.maxRanges else { throw .tooManyRangesRegistered(d.id, limit: limits.maxRanges) }
        let accepted = try validate(d)
        buffers[d.id] = accepted
        for r in accepted.ranges { index.insert(r, buffer: d.id) }
        return accepted
    }

    /// Forgets buffer `id`.
    @discardableResult
    public mutating func unregister(_ id: UInt32) throws(RegistryError) -> RegisteredBuffer {
        guard let b = buffers.removeValue(forKey: id) else { throw .unknownID(id) }
        for r in b.ranges { index.remove(start: r.offset, buffer: id) }
        return b
    }

    /// Forgets every buffer (the guest's reset, or its disconnect).
    public mutating func reset() {
        buffers.removeAll()
        index.removeAll()
    }

    /// A registered buffer containing all of `[offset, offset + length)`
    /// in one of its ranges (found in `index`, not by a scan).
    public func buffer(containing offset: UInt64, length: UInt64) -> RegisteredBuffer? {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, let id = index.find(offset: offset, end: end).buffer else { return nil }
        return buffers[id]
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
            guard BufferProperty.isValidName(p.name, maxBytes: limits.maxNameBytes) else {
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
}

extension String {
    /// The text, or nil if `bytes` is not valid UTF-8 (or holds a NUL).
    public init?(validatingUTF8Bytes bytes: [UInt8]) {
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
