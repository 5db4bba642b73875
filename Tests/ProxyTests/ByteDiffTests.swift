import Glibc
import Link
import PortholeSystem
import Testing
@testable import Proxy

@Suite struct ByteDiffTests {
    /// The client's memory (written through `writer`) and a mirror, as a stream pool has them.
    func makePool(size: Int) throws -> (StreamPool, SharedMapping) {
        let fd = try Memfd.create(name: "test-pool", size: size)
        let writer = try SharedMapping(fd: fd, size: size)
        let pool = try StreamPool(resourceID: 1, client: .shm(try fd.duplicate()), size: size)
        return (pool, writer)
    }

    /// Diffs [start, end) of the pool into its mirror; the changed runs.
    func diff(_ pool: StreamPool, start: Int, end: Int) -> (copied: Int, runs: [UpdateRun]) {
        var runs: [UpdateRun] = []
        let copied = ByteDiff.diff(client: pool.client.base!, copy: pool.mirror.base!, start: start, end: end, runs: &runs)
        return (copied, runs)
    }

    @Test func unchangedMemorySendsNothing() throws {
        let (pool, _) = try makePool(size: 1 << 16)
        let d = diff(pool, start: 0, end: 1 << 16)
        #expect(d.copied == 0 && d.runs.isEmpty)
    }

    @Test func singleByteChangeSendsOneBlock() throws {
        let (pool, writer) = try makePool(size: 1 << 16)
        writer.base!.storeBytes(of: 0xAB, toByteOffset: 5000, as: UInt8.self)
        let d = diff(pool, start: 0, end: 1 << 16)
        #expect(d.copied == ByteDiff.block)
        #expect(d.runs.reduce(0) { $0 + $1.length } == ByteDiff.block)
        #expect(d.runs.count == 1 && d.runs[0].offset <= 5000 && 5000 < d.runs[0].offset + d.runs[0].length)
        // A second diff finds the mirror up to date.
        #expect(diff(pool, start: 0, end: 1 << 16).copied == 0)
    }

    @Test func diffOutsideTheRangeIsIgnored() throws {
        let (pool, writer) = try makePool(size: 8192)
        writer.base!.storeBytes(of: 1, toByteOffset: 100, as: UInt8.self)
        #expect(diff(pool, start: 4096, end: 8192).copied == 0)
    }

    @Test func randomChangesReplicateExactly() throws {
        let size = 3 << 20
        let (pool, writer) = try makePool(size: size)
        var rng = SystemRandomNumberGenerator()
        var replica = [UInt8](repeating: 0, count: size)
        for _ in 0..<5 {
            for _ in 0..<200 {
                let at = Int.random(in: 0..<size, using: &rng)
                let n = min(Int.random(in: 1...3000, using: &rng), size - at)
                for i in 0..<n { writer.base!.storeBytes(of: UInt8.random(in: 0...255, using: &rng), toByteOffset: at + i, as: UInt8.self) }
            }
            // What the host receives is the mirror's bytes in the changed runs.
            for r in diff(pool, start: 0, end: size).runs {
                replica.withUnsafeMutableBytes { ($0.baseAddress! + r.offset).copyMemory(from: pool.mirror.base! + r.offset, byteCount: r.length) }
            }
            let same = replica.withUnsafeBytes { memcmp($0.baseAddress!, writer.base!, size) == 0 }
            #expect(same)
        }
    }
}

@Suite struct FdTranslationTableTests {
    let t = FdTranslationTable.standard
    let tables = Wayland.ProtocolTables.builtin

    @Test func coreGlobalsAreExposed() {
        for name in ["wl_compositor", "wl_shm", "xdg_wm_base", "wl_output", "wl_data_device_manager", "wp_viewporter",
                     "wp_presentation", "wl_seat", "wl_subcompositor"] {
            #expect(t.mayExpose(global: name, tables: tables), "\(name) should be exposed")
        }
    }

    @Test func globalsWithUntranslatableFdsAreHidden() {
        for name in ["zwp_linux_dmabuf_v1", "zwp_linux_explicit_synchronization_v1", "wp_drm_lease_device_v1", "no_such_global"] {
            #expect(!t.mayExpose(global: name, tables: tables), "\(name) should be hidden")
        }
    }
}

import Wayland
