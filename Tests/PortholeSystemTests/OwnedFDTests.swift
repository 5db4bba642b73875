import Glibc
import PortholeSystem
import Testing

/// Tests that reuse descriptor numbers work far above the numbers the rest of
/// the (parallel) test process allocates, so no other test can take a number
/// between our close and our reopen.
@Suite struct OwnedFDTests {
    /// A fresh descriptor (a dup of /dev/null) placed at a high number.
    private func highDescriptor() throws -> Int32 {
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        try #require(null >= 0)
        defer { Glibc.close(null) }
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let top = Int32(min(UInt64(limit.rlim_cur), 20000))
        let low = max(top / 2, 64)
        let start = Int32.random(in: low..<(top - 16))
        let fd = fcntl(null, F_DUPFD_CLOEXEC, start)
        try #require(fd >= start)
        return fd
    }

    @Test func closeClosesOnceAndDeinitDoesNotCloseAReusedNumber() throws {
        let raw = try highDescriptor()
        var owned: OwnedFD? = OwnedFD(raw)
        #expect(owned!.rawValue == raw)
        #expect(!owned!.isClosed)
        #expect(isOpenDescriptor(raw))

        owned!.close()
        #expect(owned!.isClosed)
        #expect(owned!.rawValue == -1)
        #expect(fcntl(raw, F_GETFD) == -1 && errno == EBADF, "close() must close the descriptor")

        // Someone else now gets the same number.
        let other = open("/dev/null", O_RDONLY | O_CLOEXEC)
        try #require(other >= 0)
        let reused = fcntl(other, F_DUPFD_CLOEXEC, raw)
        Glibc.close(other)
        try #require(reused == raw, "expected the freed number \(raw) to be reused, got \(reused)")

        owned!.close() // second close: no effect
        #expect(isOpenDescriptor(raw), "a second close() closed a descriptor it no longer owns")
        owned = nil // deinit
        #expect(isOpenDescriptor(raw), "deinit after close() closed a descriptor it no longer owns")
        Glibc.close(raw)
    }

    @Test func deinitClosesWhenNotClosedExplicitly() throws {
        let raw = try highDescriptor()
        var owned: OwnedFD? = OwnedFD(raw)
        #expect(owned?.isClosed == false)
        #expect(isOpenDescriptor(raw))
        owned = nil
        #expect(fcntl(raw, F_GETFD) == -1 && errno == EBADF)
    }

    @Test func releaseGivesUpOwnership() throws {
        let raw = try highDescriptor()
        var owned: OwnedFD? = OwnedFD(raw)
        let released = owned!.release()
        #expect(released == raw)
        #expect(owned!.rawValue == -1)
        #expect(owned!.isClosed)
        owned!.close()
        owned = nil
        #expect(isOpenDescriptor(raw), "a released descriptor must stay open")
        Glibc.close(raw)
    }

    @Test func duplicateIsAnIndependentCloseOnExecDescriptor() throws {
        let original = try Memfd.create(name: "dup", size: 123)
        let copy = try original.duplicate()
        #expect(copy.rawValue != original.rawValue)
        #expect(copy.rawValue >= 0)
        #expect(identity(of: copy.rawValue) == identity(of: original.rawValue))
        #expect(hasCloseOnExec(copy.rawValue))
        #expect(try copy.fileSize() == 123)

        // Same open file description: the file offset is shared.
        var b: UInt8 = 7
        #expect(write(original.rawValue, &b, 1) == 1)
        #expect(lseek(copy.rawValue, 0, SEEK_CUR) == 1)

        original.close()
        #expect(isOpenDescriptor(copy.rawValue), "closing the original closed the duplicate")
        #expect(try copy.fileSize() == 123)
    }

    @Test func duplicateOfAClosedDescriptorThrows() throws {
        let fd = try Memfd.create(name: "closed", size: 1)
        fd.close()
        #expect(throws: SystemError.self) { try fd.duplicate() }
        do {
            _ = try fd.duplicate()
        } catch {
            #expect(error.code == EBADF)
        }
        #expect(throws: SystemError.self) { try fd.fileSize() }
    }

    @Test func setNonBlockingSetsTheFlag() throws {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        let r = OwnedFD(fds[0]), w = OwnedFD(fds[1])
        #expect(fcntl(r.rawValue, F_GETFL) & O_NONBLOCK == 0)
        try r.setNonBlocking()
        #expect(fcntl(r.rawValue, F_GETFL) & O_NONBLOCK != 0)
        var byte: UInt8 = 0
        #expect(read(r.rawValue, &byte, 1) == -1 && errno == EAGAIN, "a non-blocking read of an empty pipe must not block")
        _ = w
    }
}
