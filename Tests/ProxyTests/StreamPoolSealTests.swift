import Glibc
import PortholeSystem
@testable import Proxy
import Testing

/// Whether a stream pool's bytes may be sent by reference (read by the
/// kernel later, outside any fault guard) rests on the client's file being
/// sealed against shrinking while it still holds the pool.
@Suite struct StreamPoolSealTests {
    func makePool(size: Int) throws -> (StreamPool, OwnedFD) {
        let fd = try Memfd.create(name: "test-pool", size: size)
        return (try StreamPool(resourceID: 1, client: .shm(try fd.duplicate()), size: size), fd)
    }

    @Test("a file sealed against shrinking while it holds the pool cannot shrink")
    func sealedWhole() throws {
        let (pool, fd) = try makePool(size: 1 << 20)
        #expect(!pool.clientCannotShrink)
        try Memfd.addSeals(fd, [.shrink])
        #expect(pool.clientCannotShrink)
    }

    @Test("a file shrunk first and sealed afterwards is not taken for one that cannot shrink")
    func shrunkThenSealed() throws {
        let (pool, fd) = try makePool(size: 1 << 20)
        #expect(ftruncate(fd.rawValue, 4096) == 0)
        try Memfd.addSeals(fd, [.shrink])
        #expect(!pool.clientCannotShrink)
    }
}
