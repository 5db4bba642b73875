import Glibc
import PortholeSystem
@testable import Proxy
import Testing

/// A pool's reads ask whether the client's file still holds the pool; a file
/// seen sealed against shrinking is not asked again.
@Suite struct ClientFileHoldTests {
    /// Puts an empty file where `fd` was, so that the kernel now answers
    /// "0 bytes" for it: a hold that still says yes did not ask.
    private func emptyFile(over fd: OwnedFD) throws {
        let empty = try Memfd.create(name: "empty", size: 0)
        #expect(dup2(empty.rawValue, fd.rawValue) == fd.rawValue)
    }

    @Test("an unsealed file is asked at every read and a shrink is seen")
    func unsealedIsAsked() throws {
        let fd = try Memfd.create(name: "pool", size: 8192)
        let file = ClientFile.shm(fd)
        var hold = ClientFileHold()
        let sealed = hold.cannotShrink(file, below: 8192)
        #expect(!sealed)
        #expect(hold.holds(file, 8192))
        #expect(ftruncate(fd.rawValue, 4096) == 0)
        #expect(!hold.holds(file, 8192))
        #expect(hold.holds(file, 4096))
    }

    /// A memfd of `size` bytes sealed against shrinking, as a pool's file.
    private func sealedFile(size: Int) throws -> (OwnedFD, ClientFile) {
        let fd = try Memfd.create(name: "pool", size: size)
        try Memfd.addSeals(fd, [.shrink])
        return (fd, .shm(fd))
    }

    @Test("a file seen sealed while it holds the pool is not asked again")
    func sealedIsRemembered() throws {
        let (fd, file) = try sealedFile(size: 8192)
        var hold = ClientFileHold()
        let sealed = hold.cannotShrink(file, below: 8192)
        #expect(sealed)
        try emptyFile(over: fd)
        let stillSealed = hold.cannotShrink(file, below: 8192)
        #expect(hold.holds(file, 8192) && stillSealed)
    }

    @Test("a file sealed while smaller than the pool is not remembered as holding it")
    func sealedTooSmall() throws {
        let (_, file) = try sealedFile(size: 4096)
        var hold = ClientFileHold()
        let sealed = hold.cannotShrink(file, below: 8192)
        #expect(!sealed)
        #expect(!hold.holds(file, 8192))
    }
}
