import Glibc
import Link
import PortholeSystem
import Testing
@testable import Proxy

@Suite struct ByteDiffTests {
    func makePool(size: Int) throws -> (ShmPoolMirror, SharedMapping) {
        let fd = try Memfd.create(name: "test-pool", size: size)
        let writer = try SharedMapping(fd: fd, size: size)
        let pool = try ShmPoolMirror(resourceID: 1, clientFD: try fd.duplicate(), size: size)
        return (pool, writer)
    }

    func apply(_ frames: [LinkFrame], to copy: inout [UInt8]) {
        for f in frames {
            guard case .resourceUpdate(_, _, let ranges, let bytes) = f else { continue }
            var cursor = 0
            for r in ranges {
                for i in 0..<Int(r.length) { copy[Int(r.offset) + i] = bytes[cursor + i] }
                cursor += Int(r.length)
            }
        }
    }

    @Test func unchangedMemorySendsNothing() throws {
        let (pool, _) = try makePool(size: 1 << 16)
        var b = UpdateBuilder(channel: 1, resource: 1, maxPayload: 1 << 20)
        #expect(ByteDiff.diff(pool, start: 0, end: 1 << 16, into: &b) == 0)
        b.flush()
        #expect(b.frames.isEmpty)
    }

    @Test func singleByteChangeSendsOneBlock() throws {
        let (pool, writer) = try makePool(size: 1 << 16)
        writer.base!.storeBytes(of: 0xAB, toByteOffset: 5000, as: UInt8.self)
        var b = UpdateBuilder(channel: 1, resource: 1, maxPayload: 1 << 20)
        let copied = ByteDiff.diff(pool, start: 0, end: 1 << 16, into: &b)
        b.flush()
        #expect(copied == ByteDiff.block)
        #expect(b.totalBytes == ByteDiff.block)
        // A second diff finds the mirror up to date.
        var again = UpdateBuilder(channel: 1, resource: 1, maxPayload: 1 << 20)
        #expect(ByteDiff.diff(pool, start: 0, end: 1 << 16, into: &again) == 0)
    }

    @Test func diffOutsideTheRangeIsIgnored() throws {
        let (pool, writer) = try makePool(size: 8192)
        writer.base!.storeBytes(of: 1, toByteOffset: 100, as: UInt8.self)
        var b = UpdateBuilder(channel: 1, resource: 1, maxPayload: 1 << 20)
        #expect(ByteDiff.diff(pool, start: 4096, end: 8192, into: &b) == 0)
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
            var b = UpdateBuilder(channel: 1, resource: 1, maxPayload: 1 << 20)
            _ = ByteDiff.diff(pool, start: 0, end: size, into: &b)
            b.flush()
            for f in b.frames {
                let encoded = FrameCodec.encode(f)
                #expect(encoded.count <= LinkProtocol.headerSize + (1 << 20))
            }
            apply(b.frames, to: &replica)
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
