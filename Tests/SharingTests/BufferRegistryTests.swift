import Sharing
import Testing

@Suite struct BufferRegistryTests {
    /// A 1 MiB region: the header page, then buffers.
    let area: Range<UInt64> = 4096..<(1 << 20)

    func registry() -> BufferRegistry { BufferRegistry(dataArea: area) }

    func buffer(_ ranges: [MemoryRange], id: UInt32 = 1, properties: [(String, String)] = []) -> BufferDescriptor {
        BufferDescriptor(id: id, application: "app", ranges: ranges, properties: properties)
    }

    @Test func acceptsAWellFormedBuffer() throws {
        var r = registry()
        let b = try r.register(buffer([MemoryRange(offset: 8192, length: 4096), MemoryRange(offset: 4096, length: 64)], id: 7,
                                      properties: [("width", "32"), ("format", "XRGB8888")]))
        #expect(b.size == 4160)
        #expect(b.ranges.first?.offset == 4096, "ranges come back sorted")
        #expect(b.properties == ["width": "32", "format": "XRGB8888"])
        #expect(b.application == "app")
        #expect(r.buffer(containing: 8192 + 100, length: 1000)?.id == 7)
        #expect(r.buffer(containing: 8192 + 100, length: 4000) == nil, "runs past the range")
        #expect(r.buffer(containing: 4096 + 32, length: 64) == nil, "spans a gap between ranges")
    }

    @Test func overlappingRangesAreRejected() {
        var r = registry()
        #expect(throws: RegistryError.overlappingRanges(1, MemoryRange(offset: 4096, length: 8192), MemoryRange(offset: 8192, length: 64))) {
            try r.register(buffer([MemoryRange(offset: 4096, length: 8192), MemoryRange(offset: 8192, length: 64)]))
        }
        #expect(throws: RegistryError.self) { try r.register(buffer([MemoryRange(offset: 4096, length: 64), MemoryRange(offset: 4096, length: 64)])) }
        #expect(r.count == 0)
    }

    @Test func rangesOutsideTheDataAreaAreRejected() {
        var r = registry()
        for range in [MemoryRange(offset: 0, length: 64),                 // the header page
                      MemoryRange(offset: 4032, length: 128),             // straddles its end
                      MemoryRange(offset: (1 << 20) - 64, length: 128),   // past the region
                      MemoryRange(offset: 1 << 20, length: 64),
                      MemoryRange(offset: UInt64.max - 63, length: 64),   // wraps around
                      MemoryRange(offset: 4096, length: UInt64.max - 63)] {
            #expect(throws: RegistryError.outsideRegion(1, range, data: area)) { try r.register(buffer([range])) }
        }
    }

    @Test func emptyUnalignedAndMissingRangesAreRejected() {
        var r = registry()
        #expect(throws: RegistryError.emptyRange(1, MemoryRange(offset: 4096, length: 0))) { try r.register(buffer([MemoryRange(offset: 4096, length: 0)])) }
        #expect(throws: RegistryError.unalignedRange(1, MemoryRange(offset: 4100, length: 64), alignment: 64)) {
            try r.register(buffer([MemoryRange(offset: 4100, length: 64)]))
        }
        #expect(throws: RegistryError.unalignedRange(1, MemoryRange(offset: 4096, length: 65), alignment: 64)) {
            try r.register(buffer([MemoryRange(offset: 4096, length: 65)]))
        }
        #expect(throws: RegistryError.noRanges(1)) { try r.register(buffer([])) }
    }

    @Test func hugeRangeCountsAreRejected() {
        var r = registry()
        let many = (0..<65).map { MemoryRange(offset: 4096 + UInt64($0) * 128, length: 64) }
        #expect(throws: RegistryError.tooManyRanges(1, count: 65, limit: 64)) { try r.register(buffer(many)) }
        #expect(throws: Never.self) { try r.register(buffer(Array(many.prefix(64)))) }
    }

    @Test func sizeMustMatchTheRanges() {
        var r = registry()
        let d = BufferDescriptor(id: 3, size: 4096, application: Array("a".utf8), ranges: [MemoryRange(offset: 4096, length: 64)], properties: [])
        #expect(throws: RegistryError.sizeMismatch(3, declared: 4096, ranges: 64)) { try r.register(d) }
    }

    @Test func badPropertiesAreRejected() {
        var r = registry()
        let range = [MemoryRange(offset: 4096, length: 64)]
        func props(_ p: [BufferProperty]) -> BufferDescriptor {
            BufferDescriptor(id: 1, size: 64, application: Array("a".utf8), ranges: range, properties: p)
        }
        let cases: [(String, [BufferProperty])] = [
            ("bad UTF-8 value", [BufferProperty(name: Array("name".utf8), value: [0xC3, 0x28])]),
            ("overlong UTF-8", [BufferProperty(name: Array("name".utf8), value: [0xC0, 0xAF])]),
            ("NUL in value", [BufferProperty(name: Array("name".utf8), value: [0x61, 0, 0x62])]),
            ("huge value", [BufferProperty(name: Array("name".utf8), value: Array(repeating: 0x61, count: 257))]),
            ("duplicate name", [BufferProperty("width", "1"), BufferProperty("width", "2")]),
            ("empty name", [BufferProperty("", "1")]),
            ("space in name", [BufferProperty("my width", "1")]),
            ("long name", [BufferProperty(String(repeating: "n", count: 65), "1")]),
            ("too many", (0..<33).map { BufferProperty("p\($0)", "v") }),
        ]
        for (what, p) in cases {
            #expect(throws: RegistryError.self, "\(what)") { try r.register(props(p)) }
        }
        #expect(throws: RegistryError.self) {
            try r.register(BufferDescriptor(id: 1, size: 64, application: [0xFF], ranges: range, properties: []))
        }
        #expect(throws: RegistryError.self) {
            try r.register(BufferDescriptor(id: 1, size: 64, application: Array(repeating: 0x61, count: 257), ranges: range, properties: []))
        }
        #expect(r.count == 0)
        // The limits themselves are accepted.
        #expect(throws: Never.self) {
            try r.register(props((0..<32).map { BufferProperty(name: Array("p\($0)".utf8), value: Array(repeating: 0x61, count: 256)) }))
        }
    }

    @Test func duplicateIDsAndDoubleUnregisterAreErrors() throws {
        var r = registry()
        try r.register(buffer([MemoryRange(offset: 4096, length: 64)], id: 5))
        #expect(throws: RegistryError.duplicateID(5)) { try r.register(buffer([MemoryRange(offset: 8192, length: 64)], id: 5)) }
        try r.unregister(5)
        #expect(throws: RegistryError.unknownID(5)) { try r.unregister(5) }
        #expect(throws: RegistryError.unknownID(6)) { try r.unregister(6) }
    }

    @Test func resetFreesEverything() throws {
        var r = registry()
        for i in 0..<100 { try r.register(buffer([MemoryRange(offset: 4096 + UInt64(i) * 64, length: 64)], id: UInt32(i))) }
        #expect(r.count == 100)
        r.reset()
        #expect(r.count == 0)
        #expect(r.buffer(containing: 4096, length: 64) == nil)
        // Ids are free again.
        try r.register(buffer([MemoryRange(offset: 4096, length: 64)], id: 0))
    }

    @Test func theNumberOfBuffersIsBounded() throws {
        var limits = RegistryLimits()
        limits.maxBuffers = 10
        var r = BufferRegistry(dataArea: area, limits: limits)
        for i in 0..<10 { try r.register(buffer([MemoryRange(offset: 4096, length: 64)], id: UInt32(i))) }
        #expect(throws: RegistryError.tooManyBuffers(10)) { try r.register(buffer([MemoryRange(offset: 4096, length: 64)], id: 10)) }
    }
}
