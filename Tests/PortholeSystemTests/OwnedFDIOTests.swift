import Glibc
import PortholeSystem
import SystemTestSupport
import Testing

/// `OwnedFD`'s byte I/O (readSome, writeSome, the gather write,
/// readContents) on pipes, sockets and files.
@Suite struct OwnedFDIOTests {
    @Test func readSomeOnAnEmptyPipeWouldBlockThenReadsThenEnds() throws {
        let (r, w) = try makePipe()
        var buf = [UInt8](repeating: 0, count: 16)
        #expect(try buf.withUnsafeMutableBytes { try r.readSome(into: $0) } == .wouldBlock)
        #expect(try ([1, 2, 3] as [UInt8]).withUnsafeBytes { try w.writeSome($0) } == .wrote(3))
        #expect(try buf.withUnsafeMutableBytes { try r.readSome(into: $0) } == .bytes(3))
        #expect(buf[0..<3] == [1, 2, 3])
        w.close()
        #expect(try buf.withUnsafeMutableBytes { try r.readSome(into: $0) } == .endOfStream)
    }

    @Test func readSomeFailuresAreThrownWithTheirErrno() throws {
        let (_, w) = try makePipe()
        var buf = [UInt8](repeating: 0, count: 4)
        let e = systemError("read from a pipe's write end") { _ = try buf.withUnsafeMutableBytes { try w.readSome(into: $0) } }
        #expect(e?.code == EBADF)
    }

    @Test func writeSomeOnAFullPipeWouldBlock() throws {
        let (r, w) = try makePipe()
        let chunk = [UInt8](repeating: 7, count: 4096)
        var total = 0
        var outcome = WriteOutcome.wrote(0)
        for _ in 0..<10_000 {
            outcome = try chunk.withUnsafeBytes { try w.writeSome($0) }
            guard case .wrote(let n) = outcome else { break }
            total += n
        }
        #expect(outcome == .wouldBlock)
        #expect(total >= 4096, "a pipe holds at least a page")
        // Room again once the reader takes some.
        var buf = [UInt8](repeating: 0, count: 65536)
        _ = try buf.withUnsafeMutableBytes { try r.readSome(into: $0) }
        #expect(try chunk.withUnsafeBytes { try w.writeSome($0) } != .wouldBlock)
    }

    /// write(2) to a pipe whose reader has gone fails with EPIPE and raises
    /// SIGPIPE. The signal is blocked on this thread and taken back, so the
    /// test process keeps its disposition (the porthole commands ignore it).
    @Test func writeSomeToAPipeWithoutReaderThrowsEPIPE() throws {
        let (r, w) = try makePipe()
        r.close()
        let (e, raised) = withSIGPIPEBlocked {
            systemError("write to a pipe without reader") { _ = try ([1] as [UInt8]).withUnsafeBytes { try w.writeSome($0) } }
        }
        #expect(e?.code == EPIPE)
        #expect(raised || isSIGPIPEIgnored(), "write(2) has no MSG_NOSIGNAL: the caller must ignore SIGPIPE")
    }

    @Test func gatherWriteKeepsTheBuffersInOrderOnPipesAndSockets() throws {
        let parts: [[UInt8]] = [[1, 2, 3], [], [4], Array(5...200)]
        let expected = parts.flatMap { $0 }
        let (pr, pw) = try makePipe()
        let (sa, sb) = try Socket.pair()
        for (reader, writer, kind) in [(pr, pw, StreamKind.plain), (sb, sa, StreamKind.socket)] {
            #expect(StreamKind.of(writer) == kind)
            let outcome = try gatherWrite(parts, to: writer, kind: kind)
            #expect(outcome == .wrote(expected.count), "\(kind)")
            var buf = [UInt8](repeating: 0, count: 1024)
            let got = try buf.withUnsafeMutableBytes { try reader.readSome(into: $0) }
            #expect(got == .bytes(expected.count))
            #expect(Array(buf[0..<expected.count]) == expected, "\(kind)")
        }
    }

    @Test func gatherWriteToAFullSocketWouldBlockAndToAClosedOneThrowsEPIPE() throws {
        let (a, b) = try Socket.pair()
        let block = [UInt8](repeating: 1, count: 65536)
        var outcome = WriteOutcome.wrote(0)
        for _ in 0..<10_000 {
            outcome = try gatherWrite([block, block], to: a, kind: .socket)
            if outcome == .wouldBlock { break }
        }
        #expect(outcome == .wouldBlock)
        // The count form of a socket send says 0 for the same state.
        #expect(try block.withUnsafeBytes { try Socket.send(a, $0, fds: []) } == 0)
        b.close()
        // MSG_NOSIGNAL: no signal, whatever the disposition.
        let e = systemError("gather write to a closed peer") { _ = try gatherWrite([block], to: a, kind: .socket) }
        #expect(e?.code == EPIPE)
    }

    @Test func readContentsReadsTheWholeFileFromTheStart() throws {
        let content = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let fd = try Memfd.create(name: "contents", size: 0)
        writeAll(fd.rawValue, content)
        // The file position (now at the end) does not matter.
        #expect(try fd.readContents(count: content.count) == content)
        #expect(try fd.readContents(count: 10) == Array(content[0..<10]))
        #expect(try fd.readContents(count: 0) == [])
    }

    @Test func readContentsOfAShortFileSaysHowMuchThereWas() throws {
        let fd = try Memfd.create(name: "short", size: 100)
        let e = systemError("reading past the end") { _ = try fd.readContents(count: 4096) }
        #expect(e?.code == ENODATA)
        #expect(e?.operation.contains("ends after 100") == true, "\(String(describing: e))")
    }

    // MARK: Helpers

    /// One gather write of `parts`, each its own iovec (slices of one array).
    private func gatherWrite(_ parts: [[UInt8]], to fd: OwnedFD, kind: StreamKind) throws -> WriteOutcome {
        try parts.flatMap { $0 }.withUnsafeBytes { all in
            var at = 0
            let iov = parts.map { part -> iovec in
                defer { at += part.count }
                return iovec(iov_base: UnsafeMutableRawPointer(mutating: all.baseAddress! + at), iov_len: part.count)
            }
            return try iov.withUnsafeBufferPointer { try fd.writeSome(gathering: $0, kind: kind) }
        }
    }

    /// Runs `body` with SIGPIPE blocked on this thread; takes back a SIGPIPE
    /// it raised (saying whether there was one) before unblocking.
    private func withSIGPIPEBlocked<R>(_ body: () -> R) -> (R, raised: Bool) {
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let result = body()
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        let raised = sigtimedwait(&pipeSignal, nil, &zero) == SIGPIPE
        return (result, raised)
    }

    private func isSIGPIPEIgnored() -> Bool {
        var action = sigaction()
        sigaction(SIGPIPE, nil, &action)
        return unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }
}
