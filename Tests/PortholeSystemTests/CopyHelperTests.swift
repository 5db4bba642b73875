import Glibc
import PortholeSystem
import Testing

/// A large copy made by the calling thread and a helper thread at once:
/// every byte lands whoever copied it, the helper really takes part, and a
/// source that shrinks under either thread ends as a reported fault.
@Suite("Copy helper") struct CopyHelperTests {
    static let frame = 3840 * 2160 * 4

    @Test("copies every byte, and only those, for lengths around the helper's minimum and a 4K frame, at any alignment",
          arguments: [CopyHelper.minimumBytes - 1, CopyHelper.minimumBytes, CopyHelper.minimumBytes + 12_345, frame])
    func copiesExactly(count: Int) throws {
        let helper = try CopyHelper()
        let room = count + 256
        let source = UnsafeMutableRawPointer.allocate(byteCount: room, alignment: 64)
        let target = UnsafeMutableRawPointer.allocate(byteCount: room, alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        let words = source.bindMemory(to: UInt32.self, capacity: room / 4)
        for i in 0..<room / 4 { words[i] = UInt32(truncatingIfNeeded: i &* 2_654_435_761) }
        for (s, t) in [(0, 0), (3, 0), (0, 17), (64, 96)] {
            memset(target, 0xEE, room)
            let share = helper.copy(to: target + t, from: source + s, count: count, guarded: nil)
            #expect(memcmp(target + t, source + s, count) == 0, "source +\(s), target +\(t): bytes differ")
            let before = UnsafeRawBufferPointer(start: target, count: t)
            let after = UnsafeRawBufferPointer(start: target + t + count, count: room - t - count)
            #expect(before.allSatisfy { $0 == 0xEE } && after.allSatisfy { $0 == 0xEE },
                    "source +\(s), target +\(t): a byte outside the copy changed")
            #expect(share.bytes <= count && !share.faulted)
            if count < CopyHelper.minimumBytes { #expect(share.bytes == 0, "the helper took part in a copy below its minimum") }
        }
    }

    @Test("the helper takes a share of large copies while the caller copies")
    func theHelperTakesPart() throws {
        let helper = try CopyHelper()
        let source = UnsafeMutableRawPointer.allocate(byteCount: Self.frame, alignment: 64)
        let target = UnsafeMutableRawPointer.allocate(byteCount: Self.frame, alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        memset(source, 0x5A, Self.frame)
        // The caller never waits for the helper to start, so one copy may be
        // all the caller's on a busy machine; over many, the helper's turn comes.
        var helped = 0, copies = 0
        while helped == 0 && copies < 200 {
            helped += helper.copy(to: target, from: source, count: Self.frame, guarded: nil).bytes
            copies += 1
        }
        #expect(helped > 0, "the helper copied nothing in \(copies) copies of a 4K frame")
        #expect(memcmp(target, source, Self.frame) == 0)
    }

    @Test("a stopped helper leaves every copy to the caller, complete")
    func aStoppedHelperCopiesNothing() throws {
        let helper = try CopyHelper()
        helper.stop()
        let source = UnsafeMutableRawPointer.allocate(byteCount: Self.frame, alignment: 64)
        let target = UnsafeMutableRawPointer.allocate(byteCount: Self.frame, alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        memset(source, 0x33, Self.frame)
        memset(target, 0, Self.frame)
        #expect(helper.copy(to: target, from: source, count: Self.frame, guarded: nil) == CopyHelper.Share())
        #expect(memcmp(target, source, Self.frame) == 0)
    }

    @Test("a source file shrunk to nothing: the copy completes with zeros and the fault is reported, whichever thread met it")
    func aShrunkSourceIsAFault() throws {
        let helper = try CopyHelper()
        let size = 32 << 20
        let fd = try Memfd.create(name: "copy-helper-test", size: size)
        let mapping = try SharedMapping(fd: fd, size: size, writable: false)
        let target = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { target.deallocate() }
        memset(target, 0xEE, size)
        try Memfd.resize(fd, to: 0)
        let range = UnsafeRawBufferPointer(start: mapping.base, count: size)
        let outcome = try MemoryFaultGuard.reading(mapping.base!, length: size) {
            helper.copy(to: target, from: mapping.base!, count: size, guarded: range)
        }
        #expect(outcome.faulted || outcome.value.faulted, "neither thread reported the fault")
        #expect(UnsafeRawBufferPointer(start: target, count: size).allSatisfy { $0 == 0 }, "the copy did not complete with zeros")
    }
}
