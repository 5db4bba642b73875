import Glibc
import PortholeSystem

/// The outgoing byte queue of a link. Most bytes are copied into one
/// reusable store; large runs of pixel data are queued by reference instead
/// (a pointer into memory the producer keeps unchanged until they are sent,
/// or until it calls `detach(_:)`), and written with a gather write. Nothing
/// is allocated per frame once the store has grown to the working size.
/// No fds travel on a link.
///
/// Bytes are queued a frame at a time (`beginFrame`, appends, `endFrame`),
/// and small frames of a quiet channel go ahead of other channels' bulk:
/// a frame of a channel with nothing else queued but such small frames,
/// up to `expressBytes` in all, is placed right after the frame being
/// written and the small frames placed there before it. So a window's
/// keystroke does not wait behind megabytes of another window's pixels.
/// The order within a channel never changes, nor around a link-wide frame
/// (no channel): while one is queued, every frame goes to the end.
///
/// A `LinkWriter` thread may write from the front (`takeWrite`, then
/// `finishWrite`) while the loop queues more; the writer's lock guards
/// every call then. The bytes being written stay queued until finished;
/// nothing is placed before them, and their owners may not change their
/// memory (`isWriting(_:)`).
final class LinkOutput {
    private enum Segment {
        /// Bytes `offset..<offset + length` of the store.
        case owned(offset: Int, length: Int)
        /// Bytes the producer owns; `owner` keeps the memory alive.
        case external(UnsafeRawPointer, length: Int, owner: AnyObject)

        var length: Int {
            switch self {
            case .owned(_, let n), .external(_, let n, _): return n
            }
        }
    }

    /// A segment and the frame it belongs to.
    private struct Piece {
        var segment: Segment
        /// The frame's channel; nil for a link-wide frame.
        var channel: UInt32?
        /// Placed ahead of other channels' frames.
        var express: Bool
        /// The frame's last piece.
        var endsFrame: Bool
    }

    /// The frame being queued: where its next piece goes.
    private struct Building {
        var channel: UInt32?
        var express: Bool
        /// Index of its first piece, and where the next one goes.
        var start: Int
        var next: Int
    }

    private var segments: [Piece] = []
    private var first = 0
    /// Bytes of `segments[first]` already written.
    private var firstDone = 0
    /// `segments[first]` is not the start of its frame, or is partly written:
    /// nothing may be placed before the end of that frame.
    private var midFrame = false
    private var building: Building?
    /// Per channel: express bytes queued, and frames queued at the end.
    private var expressQueued: [UInt32: Int] = [:]
    private var tailFrames: [UInt32: Int] = [:]
    /// Link-wide frames queued.
    private var linkFrames = 0
    private var store: UnsafeMutableRawPointer
    private var storeCapacity: Int
    private var storeUsed = 0
    private var externalCount = 0
    private var iov: [iovec] = []
    /// A writer's write in progress: the index after its last segment, and
    /// the owners of the memory it reads.
    private var writingEnd: Int?
    private var writingOwners: [ObjectIdentifier] = []
    /// Express frames go at or after this index: where the last one went
    /// (before skipping the express frames there). A writer's write that
    /// sends less than it took moves the front back into a frame that
    /// express frames were already placed after; without this floor the
    /// next one would go before them and overtake its own channel.
    private var expressFloor = 0

    /// Bytes queued and not yet written.
    private(set) var queuedBytes = 0
    /// Total bytes written so far.
    private(set) var totalWritten: UInt64 = 0
    /// Writes that sent something (`flush` only; a writer thread counts its own).
    private(set) var writes: UInt64 = 0
    /// Bytes queued by reference (for tests and stats).
    private(set) var externalBytesQueued: UInt64 = 0
    /// Store capacity kept when the queue empties; more is given back.
    static let keptStore = 16 << 20
    /// Most segments per write.
    static let maxIovecs = 64
    /// Most bytes a channel may have queued ahead of others' frames.
    static let expressBytes = 64 << 10

    init() {
        storeCapacity = 1 << 16
        store = .allocate(byteCount: storeCapacity, alignment: 16)
        iov.reserveCapacity(Self.maxIovecs)
    }

    deinit { store.deallocate() }

    var isEmpty: Bool { queuedBytes == 0 }

    /// Starts a frame of `bytes` bytes on `channel` (nil: a link-wide
    /// frame); the appends up to `endFrame` are its bytes.
    func beginFrame(channel: UInt32?, bytes: Int) {
        precondition(building == nil, "a frame is already being queued")
        var express = false
        if let c = channel, linkFrames == 0, tailFrames[c, default: 0] == 0,
           expressQueued[c, default: 0] + bytes <= Self.expressBytes, queuedBytes > 0 {
            express = true
        }
        let at = express ? expressEnd() : segments.count
        building = Building(channel: channel, express: express, start: at, next: at)
    }

    /// Ends the frame begun by `beginFrame`.
    func endFrame() {
        guard let b = building else { preconditionFailure("no frame is being queued") }
        building = nil
        guard b.next > b.start else { return }
        segments[b.next - 1].endsFrame = true
        guard !b.express else { return }
        if let c = b.channel { tailFrames[c, default: 0] += 1 } else { linkFrames += 1 }
    }

    /// Where the next express frame goes: after the frame being written
    /// (all of a writer's write) and the express frames that follow it.
    private func expressEnd() -> Int {
        var i = first
        if midFrame || writingEnd != nil {
            // The last segment being written, or the first.
            i = max(first, (writingEnd ?? first) - 1)
            while i < segments.count {
                i += 1
                if segments[i - 1].endsFrame { break }
            }
        }
        i = max(i, expressFloor)
        expressFloor = i
        while i < segments.count && segments[i].express { i += 1 }
        return i
    }

    /// Puts `segment` into the frame being built.
    private func place(_ segment: Segment) {
        guard var b = building else { preconditionFailure("bytes queued outside a frame") }
        let piece = Piece(segment: segment, channel: b.channel, express: b.express, endsFrame: false)
        if b.next == segments.count { segments.append(piece) } else { segments.insert(piece, at: b.next) }
        b.next += 1
        building = b
        if b.express, let c = b.channel { expressQueued[c, default: 0] += segment.length }
    }

    /// Copies bytes into the queue.
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let at = reserve(bytes.count)
        (store + at).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        addOwned(at, bytes.count)
    }

    func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    /// Writes `count` bytes into the store with `body` (which must fill them all).
    func append(count: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
        guard count > 0 else { return }
        let at = reserve(count)
        body(store + at)
        addOwned(at, count)
    }

    /// Queues `length` bytes at `pointer` without copying them. The caller
    /// keeps them unchanged until they are written or `detach(owner)`.
    func appendReference(_ pointer: UnsafeRawPointer, length: Int, owner: AnyObject) {
        guard length > 0 else { return }
        place(.external(pointer, length: length, owner: owner))
        externalCount += 1
        queuedBytes += length
        externalBytesQueued += UInt64(length)
    }

    /// Copies every still-queued byte of `owner` into the store, so that the
    /// owner may change or unmap its memory.
    func detach(_ owner: AnyObject) {
        precondition(!isWriting(owner), "detach of memory being written")
        guard externalCount > 0 else { return }
        for i in first..<segments.count {
            guard case .external(let p, let n, let o) = segments[i].segment, o === owner else { continue }
            // The written part of the first segment is skipped on writing; copy the rest.
            let skip = i == first ? firstDone : 0
            let at = reserve(n)
            (store + at + skip).copyMemory(from: p + skip, byteCount: n - skip)
            segments[i].segment = .owned(offset: at, length: n)
            externalCount -= 1
        }
    }

    /// Drops everything queued.
    func discard() {
        precondition(writingEnd == nil, "discard while a writer writes")
        segments.removeAll()
        first = 0
        expressFloor = 0
        firstDone = 0
        midFrame = false
        building = nil
        expressQueued.removeAll()
        tailFrames.removeAll()
        linkFrames = 0
        storeUsed = 0
        externalCount = 0
        queuedBytes = 0
    }

    /// The front of the queue, up to `maxBytes` and `maxIovecs` buffers, for a
    /// writer thread to write with one gather write outside the lock: the
    /// queue's own bytes among it are copied to `scratch` (at least
    /// `maxBytes` long), so that the store may move meanwhile; memory queued
    /// by reference is pointed to, and its owners must wait
    /// (`isWriting`). The bytes stay queued until `finishWrite`. 0 when
    /// nothing is queued.
    func takeWrite(maxBytes: Int, scratch: UnsafeMutableRawPointer, into out: inout [iovec]) -> Int {
        precondition(writingEnd == nil, "a write is already taken")
        out.removeAll(keepingCapacity: true)
        var total = 0
        var copied = 0
        var i = first
        while i < segments.count && out.count < Self.maxIovecs && total < maxBytes {
            let skip = i == first ? firstDone : 0
            let n = min(segments[i].segment.length - skip, maxBytes - total)
            switch segments[i].segment {
            case .owned(let offset, _):
                (scratch + copied).copyMemory(from: store + offset + skip, byteCount: n)
                out.append(iovec(iov_base: scratch + copied, iov_len: n))
                copied += n
            case .external(let p, _, let owner):
                out.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: p + skip), iov_len: n))
                writingOwners.append(ObjectIdentifier(owner))
            }
            total += n
            i += 1
        }
        if total > 0 { writingEnd = i }
        return total
    }

    /// The write taken last is done: `sent` of its bytes went out.
    func finishWrite(sent: Int) {
        writingEnd = nil
        writingOwners.removeAll(keepingCapacity: true)
        if sent > 0 { advance(sent) }
    }

    /// Whether a writer is writing memory of `owner` now.
    func isWriting(_ owner: AnyObject) -> Bool {
        writingEnd != nil && writingOwners.contains(ObjectIdentifier(owner))
    }

    /// Whether a writer's write is in progress.
    var isWriting: Bool { writingEnd != nil }

    /// Writes as much as `fd` takes. Returns true when the queue is empty.
    func flush(to fd: OwnedFD, kind: StreamKind) throws(SystemError) -> Bool {
        precondition(building == nil, "flush in the middle of queuing a frame")
        precondition(writingEnd == nil, "flush while a writer writes")
        while queuedBytes > 0 {
            iov.removeAll(keepingCapacity: true)
            var i = first
            while i < segments.count && iov.count < Self.maxIovecs {
                let skip = i == first ? firstDone : 0
                switch segments[i].segment {
                case .owned(let offset, let n):
                    iov.append(iovec(iov_base: store + offset + skip, iov_len: n - skip))
                case .external(let p, let n, _):
                    iov.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: p + skip), iov_len: n - skip))
                }
                i += 1
            }
            let outcome = try iov.withUnsafeBufferPointer { v in
                Result { () throws(SystemError) -> WriteOutcome in try fd.writeSome(gathering: v, kind: kind) }
            }.get()
            // A stream that takes nothing is waited on like a full one.
            guard case .wrote(let sent) = outcome, sent > 0 else { return false }
            writes += 1
            advance(sent)
        }
        return true
    }

    private func advance(_ sent: Int) {
        var left = sent
        queuedBytes -= sent
        totalWritten += UInt64(sent)
        while left > 0 {
            let piece = segments[first]
            let rest = piece.segment.length - firstDone
            let taken = min(left, rest)
            if piece.express, let c = piece.channel {
                let q = expressQueued[c, default: 0] - taken
                expressQueued[c] = q > 0 ? q : nil
            }
            if left < rest {
                firstDone += left
                midFrame = true
                return
            }
            left -= rest
            if case .external = piece.segment { externalCount -= 1 }
            if piece.endsFrame && !piece.express {
                if let c = piece.channel {
                    let n = tailFrames[c, default: 0] - 1
                    tailFrames[c] = n > 0 ? n : nil
                } else {
                    linkFrames -= 1
                }
            }
            midFrame = !piece.endsFrame
            segments[first].segment = .owned(offset: 0, length: 0) // drop the owner reference now
            first += 1
            firstDone = 0
        }
        if first == segments.count {
            segments.removeAll(keepingCapacity: true)
            first = 0
            expressFloor = 0
            midFrame = false
            storeUsed = 0
            if storeCapacity > Self.keptStore {
                store.deallocate()
                storeCapacity = 1 << 16
                store = .allocate(byteCount: storeCapacity, alignment: 16)
            }
        } else if first > 4096 && first > segments.count / 2 && writingEnd == nil {
            segments.removeSubrange(0..<first)
            expressFloor = max(0, expressFloor - first)
            first = 0
        }
    }

    private func addOwned(_ at: Int, _ n: Int) {
        queuedBytes += n
        // Bytes right after the frame's previous owned piece in the store extend it.
        if let b = building, b.next > b.start, case .owned(let o, let l) = segments[b.next - 1].segment, o + l == at {
            segments[b.next - 1].segment = .owned(offset: o, length: l + n)
            if b.express, let c = b.channel { expressQueued[c, default: 0] += n }
        } else {
            place(.owned(offset: at, length: n))
        }
    }

    /// Room for `n` bytes at the end of the store; returns their offset. The
    /// store only grows while bytes are queued (segments refer to offsets).
    private func reserve(_ n: Int) -> Int {
        if storeUsed + n > storeCapacity {
            // First slide the live bytes down over the written ones.
            var low = storeUsed
            for i in first..<segments.count {
                if case .owned(let o, _) = segments[i].segment { low = min(low, o) }
            }
            if low > 0 {
                if storeUsed > low { memmove(store, store + low, storeUsed - low) }
                storeUsed -= low
                for i in first..<segments.count {
                    if case .owned(let o, let l) = segments[i].segment { segments[i].segment = .owned(offset: o - low, length: l) }
                }
            }
        }
        if storeUsed + n > storeCapacity {
            var c = storeCapacity
            while storeUsed + n > c { c *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
            if storeUsed > 0 { grown.copyMemory(from: store, byteCount: storeUsed) }
            store.deallocate()
            store = grown
            storeCapacity = c
        }
        let at = storeUsed
        storeUsed += n
        return at
    }
}
