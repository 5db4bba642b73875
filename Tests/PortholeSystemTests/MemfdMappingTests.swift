import Glibc
import PortholeSystem
import Testing

@Suite struct MemfdTests {
    @Test func createMakesAZeroFilledFileOfTheRequestedSize() throws {
        let fd = try Memfd.create(name: "create", size: 4096)
        #expect(try fd.fileSize() == 4096)
        #expect(hasCloseOnExec(fd.rawValue))
        var buf = [UInt8](repeating: 0xAA, count: 4096)
        #expect(pread(fd.rawValue, &buf, 4096, 0) == 4096)
        #expect(buf.allSatisfy { $0 == 0 })
        // Sealable, and nothing sealed yet.
        #expect(try Memfd.seals(of: fd) == [])
    }

    @Test func resizeGrowsAndShrinks() throws {
        let fd = try Memfd.create(name: "resize", size: 10)
        try Memfd.resize(fd, to: 100_000)
        #expect(try fd.fileSize() == 100_000)
        try Memfd.resize(fd, to: 3)
        #expect(try fd.fileSize() == 3)
        try Memfd.resize(fd, to: 0)
        #expect(try fd.fileSize() == 0)
    }

    @Test func addedSealsAreReported() throws {
        let fd = try Memfd.create(name: "seals", size: 16)
        try Memfd.addSeals(fd, [.shrink])
        #expect(try Memfd.seals(of: fd) == [.shrink])
        try Memfd.addSeals(fd, [.grow, .write])
        #expect(try Memfd.seals(of: fd) == [.shrink, .grow, .write])
        try Memfd.addSeals(fd, .seal)
        #expect(try Memfd.seals(of: fd) == [.shrink, .grow, .write, .seal])
    }

    private func expectEPERM(_ what: Comment, _ body: () throws(SystemError) -> Void) {
        do {
            try body()
            Issue.record("\(what): expected EPERM, it succeeded")
        } catch {
            #expect(error.code == EPERM, "\(what): \(error)")
        }
    }

    @Test func shrinkSealForbidsShrinkingOnly() throws {
        let fd = try Memfd.create(name: "shrink", size: 100)
        try Memfd.addSeals(fd, .shrink)
        expectEPERM("shrink after F_SEAL_SHRINK") { () throws(SystemError) in try Memfd.resize(fd, to: 50) }
        #expect(try fd.fileSize() == 100)
        try Memfd.resize(fd, to: 200) // growing is still allowed
        #expect(try fd.fileSize() == 200)
    }

    @Test func growSealForbidsGrowingOnly() throws {
        let fd = try Memfd.create(name: "grow", size: 100)
        try Memfd.addSeals(fd, .grow)
        expectEPERM("grow after F_SEAL_GROW") { () throws(SystemError) in try Memfd.resize(fd, to: 101) }
        #expect(try fd.fileSize() == 100)
        try Memfd.resize(fd, to: 10)
        #expect(try fd.fileSize() == 10)
        // Writing past the end would grow the file.
        var b: UInt8 = 1
        #expect(pwrite(fd.rawValue, &b, 1, 10) == -1 && errno == EPERM)
    }

    @Test func writeSealForbidsWritesAndWritableMappings() throws {
        let fd = try Memfd.create(name: "write", size: 4096)
        var b: UInt8 = 0x5A
        #expect(pwrite(fd.rawValue, &b, 1, 0) == 1)
        try Memfd.addSeals(fd, [.write, .shrink, .grow])
        #expect(pwrite(fd.rawValue, &b, 1, 1) == -1 && errno == EPERM)
        expectEPERM("writable mapping of a write-sealed memfd") { () throws(SystemError) in
            _ = try SharedMapping(fd: fd, size: 4096, writable: true)
        }
        expectEPERM("ftruncate of a sealed memfd") { () throws(SystemError) in try Memfd.resize(fd, to: 0) }
        // Reading through a read-only mapping still works.
        let ro = try SharedMapping(fd: fd, size: 4096, writable: false)
        #expect(ro.bytes(at: 0, count: 2).elementsEqual([0x5A, 0]))
    }

    @Test func writeSealCannotBeAddedWhileAWritableMappingExists() throws {
        let fd = try Memfd.create(name: "busy", size: 4096)
        var mapping: SharedMapping? = try SharedMapping(fd: fd, size: 4096)
        do {
            try Memfd.addSeals(fd, .write)
            Issue.record("F_SEAL_WRITE with a live writable mapping should fail")
        } catch {
            #expect(error.code == EBUSY)
        }
        #expect(mapping?.size == 4096)
        mapping = nil // munmap
        try Memfd.addSeals(fd, .write)
        #expect(try Memfd.seals(of: fd).contains(.write))
    }

    @Test func sealSealForbidsFurtherSeals() throws {
        let fd = try Memfd.create(name: "sealseal", size: 1)
        try Memfd.addSeals(fd, .seal)
        expectEPERM("adding a seal after F_SEAL_SEAL") { () throws(SystemError) in try Memfd.addSeals(fd, .grow) }
        #expect(try Memfd.seals(of: fd) == .seal)
        // Resizing is unaffected by F_SEAL_SEAL alone.
        try Memfd.resize(fd, to: 77)
        #expect(try fd.fileSize() == 77)
    }
}

@Suite struct SharedMappingTests {
    @Test func twoMappingsOfOneMemfdSeeEachOthersWrites() throws {
        let fd = try Memfd.create(name: "shared", size: 8192)
        let a = try SharedMapping(fd: fd, size: 8192)
        let b = try SharedMapping(fd: fd, size: 8192)
        #expect(a.base != b.base)
        for i in 0..<8192 { a.base!.storeBytes(of: UInt8(truncatingIfNeeded: i &* 7), toByteOffset: i, as: UInt8.self) }
        let seen = b.bytes(at: 0, count: 8192)
        #expect(seen.enumerated().allSatisfy { $0.element == UInt8(truncatingIfNeeded: $0.offset &* 7) })
        // And the file itself has the data.
        var fromFile = [UInt8](repeating: 0, count: 16)
        #expect(pread(fd.rawValue, &fromFile, 16, 4000) == 16)
        #expect(fromFile == Array(b.bytes(at: 4000, count: 16)))
        // Writes to the file show up in the mapping.
        var marker: [UInt8] = [1, 2, 3, 4]
        #expect(pwrite(fd.rawValue, &marker, 4, 100) == 4)
        #expect(Array(a.bytes(at: 100, count: 4)) == marker)
    }

    @Test func growAfterTheFileGrew() throws {
        let fd = try Memfd.create(name: "growfile", size: 4096)
        let m = try SharedMapping(fd: fd, size: 4096)
        m.base!.storeBytes(of: 0xC3, toByteOffset: 10, as: UInt8.self)
        try Memfd.resize(fd, to: 1 << 20)
        try m.grow(to: 1 << 20)
        #expect(m.size == 1 << 20)
        #expect(m.bytes(at: 10, count: 1).first == 0xC3, "content survives the remap")
        var tail: [UInt8] = [9, 8, 7]
        #expect(pwrite(fd.rawValue, &tail, 3, off_t((1 << 20) - 3)) == 3)
        #expect(Array(m.bytes(at: (1 << 20) - 3, count: 3)) == tail)
        // The new region is writable through the mapping and reaches the file.
        m.base!.storeBytes(of: 0x42, toByteOffset: 900_000, as: UInt8.self)
        var b: UInt8 = 0
        #expect(pread(fd.rawValue, &b, 1, 900_000) == 1)
        #expect(b == 0x42)
    }

    @Test func growToASmallerOrEqualSizeDoesNothing() throws {
        let fd = try Memfd.create(name: "nogrow", size: 8192)
        let m = try SharedMapping(fd: fd, size: 8192)
        let base = m.base
        try m.grow(to: 4096)
        try m.grow(to: 8192)
        #expect(m.size == 8192)
        #expect(m.base == base)
    }

    @Test func anonymousMemoryIsZeroedAndGrowKeepsContent() throws {
        let m = try SharedMapping(anonymous: 10_000)
        #expect(m.size == 10_000)
        #expect(m.bytes(at: 0, count: 10_000).allSatisfy { $0 == 0 })
        for i in 0..<10_000 { m.base!.storeBytes(of: UInt8(truncatingIfNeeded: i % 251), toByteOffset: i, as: UInt8.self) }
        try m.grow(to: 3_000_000)
        #expect(m.size == 3_000_000)
        let kept = m.bytes(at: 0, count: 10_000)
        #expect(kept.enumerated().allSatisfy { $0.element == UInt8(truncatingIfNeeded: $0.offset % 251) })
        #expect(m.bytes(at: 10_000, count: 3_000_000 - 10_000).allSatisfy { $0 == 0 }, "new anonymous memory is zero")
        m.base!.storeBytes(of: 0xEE, toByteOffset: 2_999_999, as: UInt8.self)
        #expect(m.bytes(at: 2_999_999, count: 1).first == 0xEE)
    }

    @Test func anonymousMappingIsPrivate() throws {
        let a = try SharedMapping(anonymous: 4096)
        let b = try SharedMapping(anonymous: 4096)
        a.base!.storeBytes(of: 1, toByteOffset: 0, as: UInt8.self)
        #expect(b.bytes(at: 0, count: 1).first == 0)
    }

    @Test func zeroSizedMappingHasNoBaseAndCanGrow() throws {
        let empty = try SharedMapping(anonymous: 0)
        #expect(empty.base == nil)
        #expect(empty.size == 0)
        #expect(empty.bytes(at: 0, count: 0).count == 0)
        try empty.grow(to: 100)
        #expect(empty.base != nil)
        #expect(empty.size == 100)
        #expect(empty.bytes(at: 0, count: 100).allSatisfy { $0 == 0 })

        let fd = try Memfd.create(name: "empty", size: 0)
        let fileMapping = try SharedMapping(fd: fd, size: 0)
        #expect(fileMapping.base == nil)
        try Memfd.resize(fd, to: 4096)
        try fileMapping.grow(to: 4096)
        fileMapping.base!.storeBytes(of: 0x11, toByteOffset: 4095, as: UInt8.self)
        var b: UInt8 = 0
        #expect(pread(fd.rawValue, &b, 1, 4095) == 1 && b == 0x11)
    }

    @Test func mappingAClosedDescriptorThrows() throws {
        let fd = try Memfd.create(name: "closedmap", size: 4096)
        fd.close()
        #expect(throws: SystemError.self) { try SharedMapping(fd: fd, size: 4096) }
    }
}
