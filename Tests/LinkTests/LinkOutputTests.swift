import Glibc
@testable import Link
import PortholeSystem
import Testing

/// Where `LinkOutput` puts each frame: a small frame of a quiet channel goes
/// ahead of other channels' queued bulk, never ahead of its own channel's
/// frames, of a link-wide frame, or into the middle of a frame being written.
@Suite("Link output order") struct LinkOutputTests {
    /// A frame whose bytes all say which frame it is.
    struct Frame {
        let tag: UInt8
        let channel: UInt32?
        let size: Int
        var bytes: [UInt8] { [UInt8](repeating: tag, count: size) }
    }

    /// Queues `frame` as one frame.
    func queue(_ output: LinkOutput, _ frame: Frame) {
        output.beginFrame(channel: frame.channel, bytes: frame.size)
        output.append(frame.bytes)
        output.endFrame()
    }

    /// Writes everything queued through a socket pair; returns the tags in
    /// the order their bytes came out, checking no frame was cut by another.
    func drain(_ output: LinkOutput, sizes: [UInt8: Int], writer: OwnedFD, reader: OwnedFD, received: inout [UInt8]) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let empty = try output.flush(to: writer, kind: .socket)
            while true {
                let n = read(reader.rawValue, &buffer, buffer.count)
                if n <= 0 { break }
                received += buffer[0..<n]
            }
            if empty { break }
        }
    }

    /// The frames' tags in stream order; nil if a frame was interleaved with another.
    func order(_ bytes: [UInt8], sizes: [UInt8: Int]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let tag = bytes[i]
            guard let size = sizes[tag], i + size <= bytes.count, bytes[i..<i + size].allSatisfy({ $0 == tag }) else { return nil }
            out.append(tag)
            i += size
        }
        return out
    }

    func pair() throws -> (OwnedFD, OwnedFD) {
        let (a, b) = try Socket.pair()
        for fd in [a, b] { _ = fcntl(fd.rawValue, F_SETFL, fcntl(fd.rawValue, F_GETFL) | O_NONBLOCK) }
        return (a, b)
    }

    func run(_ frames: [Frame], after written: [Frame] = [], partly: Bool = false) throws -> [UInt8]? {
        let output = LinkOutput()
        let (writer, reader) = try pair()
        var sizes: [UInt8: Int] = [:]
        for f in written + frames { sizes[f.tag] = f.size }
        var received: [UInt8] = []
        for f in written { queue(output, f) }
        if partly {
            // The socket takes part of the first frame; nothing is read yet.
            _ = Socket.setBufferSizes(writer, bytes: 4096)
            _ = Socket.setBufferSizes(reader, bytes: 4096)
            _ = try output.flush(to: writer, kind: .socket)
            #expect(output.queuedBytes > 0 && output.queuedBytes < written.reduce(0) { $0 + $1.size }, "the first write did not stop mid-frame")
        }
        for f in frames { queue(output, f) }
        try drain(output, sizes: sizes, writer: writer, reader: reader, received: &received)
        return order(received, sizes: sizes)
    }

    @Test("a small frame of a quiet channel is written before another channel's queued bulk")
    func aQuietChannelGoesFirst() throws {
        let bulk = (1...3).map { Frame(tag: $0, channel: 1, size: 200_000) }
        #expect(try run([Frame(tag: 9, channel: 2, size: 300)], after: bulk) == [9, 1, 2, 3])
    }

    @Test("a frame partly written is finished first: the small frame goes right after it")
    func notIntoTheFrameBeingWritten() throws {
        let bulk = (1...3).map { Frame(tag: $0, channel: 1, size: 200_000) }
        #expect(try run([Frame(tag: 9, channel: 2, size: 300)], after: bulk, partly: true) == [1, 9, 2, 3])
    }

    @Test("a channel's frames keep their order: once one of them waits at the end, the rest follow it")
    func aChannelKeepsItsOrder() throws {
        let bulk = [Frame(tag: 1, channel: 1, size: 200_000)]
        let frames = [Frame(tag: 7, channel: 2, size: 100), Frame(tag: 8, channel: 2, size: 200_000), Frame(tag: 9, channel: 2, size: 100)]
        #expect(try run(frames, after: bulk) == [7, 1, 8, 9])
    }

    @Test("small frames of several quiet channels keep the order they were queued in, ahead of the bulk")
    func quietChannelsInOrder() throws {
        let bulk = [Frame(tag: 1, channel: 1, size: 200_000)]
        let frames = [Frame(tag: 7, channel: 2, size: 100), Frame(tag: 8, channel: 3, size: 100), Frame(tag: 9, channel: 2, size: 100)]
        #expect(try run(frames, after: bulk) == [7, 8, 9, 1])
    }

    @Test("a channel's frames beyond its express allowance go to the end")
    func theAllowanceIsBounded() throws {
        let bulk = [Frame(tag: 1, channel: 1, size: 200_000)]
        let half = LinkOutput.expressBytes / 2
        let frames = [Frame(tag: 7, channel: 2, size: half), Frame(tag: 8, channel: 2, size: half), Frame(tag: 9, channel: 2, size: 100)]
        #expect(try run(frames, after: bulk) == [7, 8, 1, 9])
    }

    @Test("nothing overtakes a queued link-wide frame, and it overtakes nothing")
    func linkWideFramesAreBarriers() throws {
        let before = [Frame(tag: 1, channel: 1, size: 200_000), Frame(tag: 5, channel: nil, size: 50)]
        let frames = [Frame(tag: 9, channel: 2, size: 100)]
        #expect(try run(frames, after: before) == [1, 5, 9])
    }

    @Test("a writer's write that sends less than it took does not let a small frame overtake its channel's earlier one")
    func aShortWriterWriteKeepsTheExpressOrder() throws {
        let output = LinkOutput()
        let (writer, reader) = try pair()
        let frames = [Frame(tag: 1, channel: 1, size: 200_000), Frame(tag: 2, channel: 1, size: 200_000), Frame(tag: 3, channel: 1, size: 200_000)]
        for f in frames { queue(output, f) }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 300_000, alignment: 16)
        defer { scratch.deallocate() }
        var iov: [iovec] = []
        // The writer takes all of frame 1 and part of frame 2: a small frame goes after frame 2...
        #expect(output.takeWrite(maxBytes: 300_000, scratch: scratch, into: &iov) == 300_000)
        queue(output, Frame(tag: 7, channel: 2, size: 100))
        // ...but the socket takes only part of frame 1.
        output.finishWrite(sent: 1000)
        queue(output, Frame(tag: 8, channel: 2, size: 100))
        var sizes: [UInt8: Int] = [7: 100, 8: 100]
        for f in frames { sizes[f.tag] = f.size }
        // What the socket took, then the rest.
        var received = [UInt8](repeating: 1, count: 1000)
        try drain(output, sizes: sizes, writer: writer, reader: reader, received: &received)
        let tags = order(received, sizes: sizes)
        #expect(tags == [1, 2, 7, 8, 3])
    }
}
