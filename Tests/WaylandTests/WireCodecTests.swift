import Testing
@testable import Wayland

/// Encoding and decoding of each argument type, byte for byte.
@Suite struct WireCodecTests {
    /// Encodes `args`, checks the header and padding, decodes them back and
    /// returns the bytes.
    @discardableResult
    private func roundTrip(_ spec: MessageSpec, _ args: [WireArg], objectID: UInt32 = 7, opcode: UInt16 = 3) throws -> [UInt8] {
        let bytes = WireCodec.encode(objectID: objectID, opcode: opcode, args)
        let header = try #require(bytes.withUnsafeBytes { MessageHeader.peek($0) })
        #expect(header == MessageHeader(objectID: objectID, opcode: opcode, size: bytes.count))
        #expect(bytes.count % 4 == 0)
        try header.validate()
        let decoded = try bytes.withUnsafeBytes { try WireCodec.decode($0, spec) }
        #expect(decoded == args)
        return bytes
    }

    private func spec(_ args: ArgSpec...) -> MessageSpec { MessageSpec(name: "test", args: args) }

    private func word(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }

    @Test func intIsLittleEndianTwosComplement() throws {
        let bytes = try roundTrip(spec(ArgSpec(.int)), [.int(-2)], objectID: 5, opcode: 2)
        #expect(bytes == [5, 0, 0, 0, 2, 0, 12, 0, 0xFE, 0xFF, 0xFF, 0xFF])
        for v in [Int32.min, -1, 0, 1, Int32.max] { try roundTrip(spec(ArgSpec(.int)), [.int(v)]) }
    }

    @Test func uintAndFixed() throws {
        for v in [UInt32.min, 1, 0x8000_0000, UInt32.max] { try roundTrip(spec(ArgSpec(.uint)), [.uint(v)]) }
        // 24.8 fixed point: 1.0 is 256, -1.5 is -384.
        let bytes = try roundTrip(spec(ArgSpec(.fixed), ArgSpec(.fixed)), [.fixed(256), .fixed(-384)])
        #expect(word(bytes, at: 8) == 256 && word(bytes, at: 12) == UInt32(bitPattern: -384))
    }

    @Test func stringsAreNulTerminatedAndPadded() throws {
        let s = spec(ArgSpec(.string))
        for length in 0...9 {
            let text = String(repeating: "x", count: length)
            let bytes = try roundTrip(s, [.text(text)])
            #expect(word(bytes, at: 8) == UInt32(length + 1), "length field counts the NUL")
            #expect(bytes.count == 12 + (length + 1 + 3) / 4 * 4)
            #expect(bytes[(12 + length)...].allSatisfy { $0 == 0 }, "NUL and padding are zero")
        }
        let empty = try roundTrip(s, [.text("")])
        #expect(empty.count == 16 && word(empty, at: 8) == 1)
        try roundTrip(s, [.text("grüße, 世界")])
    }

    @Test func nullStringOnlyWhereNullable() throws {
        let bytes = try roundTrip(spec(ArgSpec(.string, nullable: true)), [.string(nil)])
        #expect(bytes.count == 12 && word(bytes, at: 8) == 0)
        #expect(throws: WireError.nullNotAllowed("argument 0 of test")) {
            try bytes.withUnsafeBytes { try WireCodec.decode($0, spec(ArgSpec(.string))) }
        }
    }

    @Test func objectsAndNullObjects() throws {
        try roundTrip(spec(ArgSpec(.object, interface: "wl_surface")), [.object(42)])
        try roundTrip(spec(ArgSpec(.object, interface: "wl_buffer", nullable: true)), [.object(0)])
        let attach = try #require(ProtocolTables.builtin["wl_surface"]?.requests[1])
        #expect(attach.name == "attach")
        try roundTrip(attach, [.object(0), .int(-3), .int(4)])
    }

    @Test func typedNewID() throws {
        let create = try #require(ProtocolTables.builtin["wl_compositor"]?.requests[0])
        let bytes = try roundTrip(create, [.newID(0x1234)])
        #expect(bytes.count == 12 && word(bytes, at: 8) == 0x1234)
    }

    @Test func untypedNewIDOfRegistryBind() throws {
        let bind = try #require(ProtocolTables.builtin["wl_registry"]?.requests.first)
        #expect(bind.name == "bind" && bind.args[1].type == .newID && bind.args[1].interface == nil)
        let args: [WireArg] = [.uint(3), .untypedNewID(interface: Array("wl_compositor".utf8), version: 4, id: 9)]
        let bytes = try roundTrip(bind, args, objectID: 2, opcode: 0)
        // name, string length 14, "wl_compositor\0" padded to 16, version, id.
        #expect(bytes.count == 8 + 4 + 4 + 16 + 4 + 4)
        #expect(word(bytes, at: 8) == 3 && word(bytes, at: 12) == 14)
        #expect(Array(bytes[16..<29]) == Array("wl_compositor".utf8) && bytes[29...31].allSatisfy { $0 == 0 })
        #expect(word(bytes, at: 32) == 4 && word(bytes, at: 36) == 9)
    }

    @Test func arraysArePaddedAndKeepTheirBytes() throws {
        let s = spec(ArgSpec(.array), ArgSpec(.uint))
        for length in 0...9 {
            let content = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37) }
            let bytes = try roundTrip(s, [.array(content), .uint(0xDEAD_BEEF)])
            #expect(word(bytes, at: 8) == UInt32(length))
            let padded = (length + 3) / 4 * 4
            #expect(bytes.count == 12 + padded + 4)
            #expect(bytes[(12 + length)..<(12 + padded)].allSatisfy { $0 == 0 })
        }
    }

    @Test func fdsTakeNoBytesInTheStream() throws {
        let createPool = try #require(ProtocolTables.builtin["wl_shm"]?.requests.first)
        #expect(createPool.name == "create_pool" && createPool.fdCount == 1)
        let bytes = try roundTrip(createPool, [.newID(5), .fd, .int(4096)])
        #expect(bytes.count == 16 && word(bytes, at: 8) == 5 && word(bytes, at: 12) == 4096)
        let keymap = try #require(ProtocolTables.builtin["wl_keyboard"]?.events.first)
        #expect(keymap.name == "keymap")
        #expect(try roundTrip(keymap, [.uint(1), .fd, .uint(100)]).count == 16)
    }

    // MARK: Errors

    private func header(size: Int) -> [UInt8] {
        WireCodec.encode(objectID: 1, opcode: 0, []).enumerated().map { i, b in
            i == 6 ? UInt8(size & 0xFF) : i == 7 ? UInt8(size >> 8) : b
        }
    }

    @Test func headerSizeLimits() throws {
        for (size, valid) in [(0, false), (4, false), (8, true), (10, false), (4096, true), (4100, false), (65532, false)] {
            let h = try #require(header(size: size).withUnsafeBytes { MessageHeader.peek($0) })
            #expect(h.size == size)
            if valid {
                try h.validate()
            } else {
                #expect(throws: WireError.self) { try h.validate() }
            }
        }
        #expect([UInt8](repeating: 0, count: 7).withUnsafeBytes { MessageHeader.peek($0) } == nil)
    }

    private func decode(_ words: [UInt32], _ s: MessageSpec) throws(WireError) -> [WireArg] { try decode(words, [], s) }

    /// Decodes a message made of `words` followed by the raw bytes `extra`.
    private func decode(_ words: [UInt32], _ extra: [UInt8], _ s: MessageSpec) throws(WireError) -> [WireArg] {
        var bytes = WireCodec.encode(objectID: 1, opcode: 0, words.map { .uint($0) })
        bytes += extra
        return try bytes.withUnsafeBytes { raw in Result { () throws(WireError) in try WireCodec.decode(raw, s) } }.get()
    }

    @Test func truncatedArguments() {
        #expect(throws: WireError.truncated("argument 0 of test")) { try decode([], spec(ArgSpec(.int))) }
        #expect(throws: WireError.truncated("argument 1 of test")) { try decode([1], spec(ArgSpec(.uint), ArgSpec(.object))) }
        // A string claiming 20 bytes with only 4 present.
        #expect(throws: WireError.truncated("argument 0 of test")) { try decode([20, 0x6162_6364], spec(ArgSpec(.string))) }
        #expect(throws: WireError.truncated("argument 0 of test")) { try decode([9, 0], spec(ArgSpec(.array))) }
        #expect(throws: WireError.truncated("argument 0 of test")) { try decode([0xFFFF_FFF0], spec(ArgSpec(.array))) }
    }

    @Test func stringWithoutNul() {
        // Length 4, bytes "abcd": the last byte must be the NUL.
        #expect(throws: WireError.badString("argument 0 of test is not NUL-terminated")) {
            try decode([4], Array("abcd".utf8), spec(ArgSpec(.string)))
        }
        #expect(throws: WireError.badString("argument 0 of test has an embedded NUL")) {
            try decode([4], [0x61, 0, 0x62, 0], spec(ArgSpec(.string)))
        }
    }

    @Test func nullWhereNotAllowed() {
        #expect(throws: WireError.nullNotAllowed("argument 1 of test")) {
            try decode([5, 0], spec(ArgSpec(.newID, interface: "xdg_surface"), ArgSpec(.object, interface: "wl_surface")))
        }
        #expect(throws: WireError.nullNotAllowed("argument 0 of test")) { try decode([0], spec(ArgSpec(.newID, interface: "wl_callback"))) }
        #expect(throws: WireError.self) { try decode([0, 1, 2], spec(ArgSpec(.newID))) }
    }

    @Test func trailingBytes() {
        #expect(throws: WireError.trailingBytes(4)) { try decode([1, 2], spec(ArgSpec(.uint))) }
    }
}
