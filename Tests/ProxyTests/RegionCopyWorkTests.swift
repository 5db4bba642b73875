import Glibc
import PortholeSystem
import Testing
@testable import Proxy

/// A region window's copy as the copy thread runs it (`RegionCopyWork`).
@Suite("Region copies on the copy thread") struct RegionCopyWorkTests {
    /// Counts calls from the copy thread's work (one thread at a time).
    final class Offers: @unchecked Sendable { var count = 0 }

    @Test("the copy thread offers its CPU between pieces of a large span, blind or compared, and the region still gets every byte",
          arguments: [false, true])
    func offersTheCPUBetweenPieces(blind: Bool) throws {
        let size = 6 << 20
        let fd = try Memfd.create(name: "test-client", size: size)
        let client = try SharedMapping(fd: fd, size: size)
        for i in stride(from: 0, to: size, by: 8) { client.base!.storeBytes(of: UInt64(i) &* 0x9E37_79B9 | 1, toByteOffset: i, as: UInt64.self) }
        let region = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { region.deallocate() }
        memset(region, 0, size)
        let offers = Offers()
        // 5 MiB (5 pieces: 4 offers between) and 1 MiB (one piece: none).
        let spans = [0..<(5 << 20), (5 << 20)..<size]
        let work = RegionCopyWork(client: client.base!, clientLength: size, copy: region, spans: spans,
                                  rows: RowFlip(inverted: false, offset: 0, stride: 4096, height: size / 4096),
                                  blind: blind, keepAlive: [client]) { offers.count += 1 }
        work.run()
        #expect(offers.count == 4)
        #expect(work.outcome.copied == size && !work.outcome.faulted && work.outcome.guardError == nil)
        #expect(memcmp(region, client.base!, size) == 0, "the region does not hold the client's bytes")
    }
}
