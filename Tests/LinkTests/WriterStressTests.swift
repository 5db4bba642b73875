import Glibc
@testable import Link
import PortholeSystem
import SystemTestSupport
import Testing

/// Memory a sender queues by reference and changes after `detach`.
private typealias Mem = TestMemory

/// Reads a link's byte stream on a thread of its own and checks every
/// update against the content the sender had when it queued it (named by
/// the update's resource id: content `(rid - 1) % contents.count`).
private final class Verifier: @unchecked Sendable {
    let fd: Int32
    let contents: [UInt32: [Mem]]
    var errors: [String] = []
    var updateBytes = 0
    var frames = 0
    var lastResource: [UInt32: UInt32] = [:]
    var lastCounter: [UInt32: UInt32] = [:]
    var finished = false
    private var thread = pthread_t()

    init(fd: Int32, contents: [UInt32: [Mem]]) {
        self.fd = fd
        self.contents = contents
    }

    func start() {
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { raw in
            Unmanaged<Verifier>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
    }

    func join() { pthread_join(thread, nil) }

    private func fail(_ s: String) { if errors.count < 20 { errors.append(s) } }

    private func run() {
        let cap = 8 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
        defer { buf.deallocate() }
        var start = 0, end = 0
        let limits = LinkLimits()
        while !finished && errors.isEmpty {
            if start > 0 && (end == cap || start > cap / 2) {
                memmove(buf, buf + start, end - start)
                end -= start
                start = 0
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 20_000) <= 0 { fail("reader timed out"); return }
            let n = read(fd, buf + end, cap - end)
            if n == 0 { fail("end of stream"); return }
            if n < 0 { if errno == EAGAIN || errno == EINTR { continue }; fail("read errno \(errno)"); return }
            end += n
            while !finished && errors.isEmpty {
                let avail = UnsafeRawBufferPointer(start: buf + start, count: end - start)
                guard let length = try? FrameCodec.frameLength(avail, limits: limits) else { break }
                guard end - start >= length else { break }
                let frame: LinkFrame
                do {
                    frame = try FrameCodec.decode(UnsafeRawBufferPointer(rebasing: avail[0..<length]), limits: limits)
                } catch { fail("decode: \(error)"); return }
                start += length
                handle(frame)
            }
        }
    }

    private func handle(_ frame: LinkFrame) {
        frames += 1
        switch frame {
        case .resourceUpdate(let c, let rid, let ranges, let bytes):
            if let last = lastResource[c], rid < last { fail("channel \(c): resource \(rid) after \(last) (frame \(frames))") }
            lastResource[c] = rid
            guard let list = contents[c] else { fail("unexpected channel \(c)"); return }
            let mem = list[Int(rid - 1) % list.count]
            var at = 0
            bytes.withUnsafeBytes { b in
                for r in ranges {
                    let len = Int(r.length)
                    if memcmp(b.baseAddress! + at, mem.pointer + Int(r.offset), len) != 0 {
                        var firstBad = 0
                        while firstBad < len && b[at + firstBad] == mem.pointer.load(fromByteOffset: Int(r.offset) + firstBad, as: UInt8.self) { firstBad += 1 }
                        fail("channel \(c) resource \(rid) range \(r.offset)+\(r.length): wrong bytes from \(firstBad) (frame \(frames))")
                    }
                    at += len
                }
            }
            updateBytes += bytes.count
        case .data(let c, _, _, let bytes):
            if c == 9 { finished = true; return }
            let v = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            if let last = lastCounter[c], v != last + 1 { fail("channel \(c): counter \(v) after \(last)") }
            lastCounter[c] = v
        default:
            break
        }
    }
}

@Suite struct WriterStressTests {
    @Test(arguments: [UInt64(1), 2], [true, false])
    func updatesFromMemoryChangedAfterDetachArriveIntact(seed: UInt64, writer: Bool) throws {
        var rng = SplitMix64(seed: seed &* 7919 &+ UInt64(MonotonicClock.nanoseconds() & 0xffff))
        let bigSize = 4 << 20, smallSize = 32 << 10, k = 5
        func filled(_ size: Int) -> Mem {
            let m = Mem(size: size)
            let bytes = randomBytes(size, using: &rng)
            m.pointer.copyMemory(from: bytes, byteCount: size)
            return m
        }
        let big = (0..<k).map { _ in filled(bigSize) }
        let small = (0..<k).map { _ in filled(smallSize) }
        let src1 = Mem(size: bigSize), src2 = Mem(size: smallSize)
        src1.pointer.copyMemory(from: big[0].pointer, byteCount: bigSize)
        src2.pointer.copyMemory(from: small[0].pointer, byteCount: smallSize)

        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        let link = try LinkEndpoint(socket: a, role: .guest, name: "g", loop: loop, delegate: nil)
        if writer { try link.startWriter(roomBelow: 1 << 20) }
        writeAll(b.rawValue, FrameCodec.encode(.hello(version: 1, role: .host, features: 0)))
        #expect(try runLoop(loop) { link.isOpen })
        let verifier = Verifier(fd: b.rawValue, contents: [1: big, 2: small])
        verifier.start()

        var r1: UInt32 = 1, r2: UInt32 = 1, counter2: UInt32 = 0, counter3: UInt32 = 0
        func randomRuns(size: Int, minLen: Int, maxLen: Int) -> [UpdateRun] {
            var runs: [UpdateRun] = []
            var at = Int.random(in: 0..<4096, using: &rng)
            let count = Int.random(in: 1...4, using: &rng)
            for _ in 0..<count {
                let len = Int.random(in: minLen...maxLen, using: &rng)
                if at + len > size { break }
                runs.append(UpdateRun(offset: at, length: len))
                at += len + Int.random(in: 1...9000, using: &rng)
            }
            return runs
        }
        func smallEvents() {
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0, 1:
                    link.sendUpdate(channel: 2, resource: r2, base: src2.pointer, runs: randomRuns(size: smallSize, minLen: 100, maxLen: 9000), owner: src2)
                case 2:
                    counter2 += 1
                    link.send(.data(channel: 2, credit: .init(bufAlloc: 1, fwdCnt: 0), resources: [], bytes: withUnsafeBytes(of: counter2) { Array($0) }))
                default:
                    counter3 += 1
                    link.send(.data(channel: 3, credit: .init(bufAlloc: 1, fwdCnt: 0), resources: [], bytes: withUnsafeBytes(of: counter3) { Array($0) }))
                }
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    link.detach(src2)
                    r2 += 1
                    src2.pointer.copyMemory(from: small[Int(r2 - 1) % k].pointer, byteCount: smallSize)
                }
                if Bool.random(using: &rng) { usleep(UInt32.random(in: 0...300, using: &rng)) }
            }
        }
        let deadline = MonotonicClock.nanoseconds() + 3_000_000_000
        var rounds = 0
        while MonotonicClock.nanoseconds() < deadline && verifier.errors.isEmpty {
            rounds += 1
            let runs = randomRuns(size: bigSize, minLen: 1000, maxLen: 1_500_000)
            link.sendUpdate(channel: 1, resource: r1, base: src1.pointer, runs: runs, owner: src1)
            smallEvents()
            while link.queuedBytes > Int.random(in: 0...(6 << 20), using: &rng) {
                smallEvents()
                loop.runOnce(timeout: 0)
                usleep(UInt32.random(in: 0...500, using: &rng))
            }
            link.detach(src1)
            r1 += 1
            src1.pointer.copyMemory(from: big[Int(r1 - 1) % k].pointer, byteCount: bigSize)
            loop.runOnce(timeout: 0)
        }
        // Everything out first: the final frame is express and would overtake.
        #expect(try runLoop(loop, timeout: 30) { link.queuedBytes == 0 || !verifier.errors.isEmpty })
        link.send(.data(channel: 9, credit: .init(bufAlloc: 1, fwdCnt: 0), resources: [], bytes: [0, 0, 0, 0]))
        #expect(try runLoop(loop, timeout: 30) { link.queuedBytes == 0 || !verifier.errors.isEmpty })
        verifier.join()
        let errors = verifier.errors
        #expect(errors.isEmpty, "\(errors.joined(separator: "; ")) after \(rounds) rounds")
        // print("seed \(seed) writer \(writer): \(rounds) rounds, \(verifier.frames) frames, \(verifier.updateBytes) update bytes, errors: \(errors.count)")
        link.close(reason: "done")
    }
}
