import Glibc
import PortholeSystem
import Testing

/// A file truncated under a read-only mapping: reading past the new end
/// faults (SIGBUS); inside `MemoryFaultGuard.reading` that is reported and
/// the read sees zeros instead of ending the process.
@Suite struct MemoryFaultGuardTests {
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// A memfd of `pages` pages filled with 0xAB, mapped read-only.
    private func filledFile(pages: Int) throws -> (OwnedFD, SharedMapping) {
        let size = pages * Self.pageSize
        let fd = try Memfd.create(name: "fault-guard-test", size: size)
        let writer = try SharedMapping(fd: fd, size: size)
        memset(writer.base!, 0xAB, size)
        return (fd, try SharedMapping(fd: fd, size: size, writable: false))
    }

    /// Sums every byte of the mapping (reads all of it).
    private func sum(_ mapping: SharedMapping) -> Int {
        let bytes = UnsafeRawBufferPointer(start: mapping.base, count: mapping.size)
        var total = 0
        for b in bytes { total &+= Int(b) }
        return total
    }

    @Test func anIntactFileReadsWithoutFault() throws {
        let (_, mapping) = try filledFile(pages: 4)
        let outcome = try MemoryFaultGuard.reading(mapping.base!, length: mapping.size) { sum(mapping) }
        #expect(!outcome.faulted)
        #expect(outcome.value == 0xAB * mapping.size)
    }

    @Test func aTruncatedFileFaultsAndReadsZeros() throws {
        let (fd, mapping) = try filledFile(pages: 4)
        try Memfd.resize(fd, to: Self.pageSize)  // three of the four pages are gone
        let outcome = try MemoryFaultGuard.reading(mapping.base!, length: mapping.size) { sum(mapping) }
        #expect(outcome.faulted)
        // The first page was read before the fault swapped the range for
        // zeros, or after (then it reads zeros too): at most one page of 0xAB.
        #expect(outcome.value <= 0xAB * Self.pageSize)
        #expect(try fd.fileSize() == Self.pageSize)
    }

    @Test func guardsDoNotNest() throws {
        let (_, mapping) = try filledFile(pages: 1)
        var inner: SystemError?
        _ = try MemoryFaultGuard.reading(mapping.base!, length: mapping.size) { () -> Int in
            do { _ = try MemoryFaultGuard.reading(mapping.base!, length: mapping.size) { 0 } } catch { inner = error as? SystemError }
            return 0
        }
        #expect(inner?.code == EBUSY)
        // And the outer guard ended properly: a new one can begin.
        #expect(try MemoryFaultGuard.reading(mapping.base!, length: mapping.size) { 1 }.value == 1)
    }

    @Test func eachGuardCountsOnlyItsOwnFaults() throws {
        let (fd, mapping) = try filledFile(pages: 2)
        try Memfd.resize(fd, to: 0)
        #expect(try MemoryFaultGuard.reading(mapping.base!, length: mapping.size) { sum(mapping) }.faulted)
        // The range now holds zero pages: no new fault.
        let again = try MemoryFaultGuard.reading(mapping.base!, length: mapping.size) { sum(mapping) }
        #expect(!again.faulted)
        #expect(again.value == 0)
    }

    /// A fault that was not the guard's hands SIGBUS back to the previous
    /// handler; the next guarded read must still be caught. Run in a child
    /// process: SIGBUS's disposition belongs to the whole process, and other
    /// tests guard reads on other threads meanwhile (in this process, the
    /// moment of SIG_DFL below would kill them).
    @Test func aGuardStillCatchesFaultsAfterSomeoneElseTookSIGBUS() async {
        await #expect(processExitsWith: .success) {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let fd = try Memfd.create(name: "fault-guard-test", size: 4 * page)
            let mapping = try SharedMapping(fd: fd, size: 4 * page, writable: false)
            let bytes = UnsafeRawBufferPointer(start: mapping.base, count: mapping.size)
            // The guard's handler is in place after a first guarded read.
            _ = try MemoryFaultGuard.reading(mapping.base!, length: mapping.size) { bytes.reduce(0) { $0 &+ Int($1) } }
            var plain = sigaction()
            plain.__sigaction_handler.sa_handler = SIG_DFL
            sigaction(SIGBUS, &plain, nil)
            try Memfd.resize(fd, to: page)
            let outcome = try MemoryFaultGuard.reading(mapping.base!, length: mapping.size) { bytes.reduce(0) { $0 &+ Int($1) } }
            exit(outcome.faulted ? 0 : 3)
        }
    }
}
