import Glibc
import PortholeSystem

/// The outgoing byte queue of a link. Most bytes are copied into one
/// reusable store; large runs of pixel data are queued by reference instead
/// (a pointer into memory the producer keeps unchanged until they are sent,
/// or until it calls `detach(_:)`), and written with a gather write. Nothing
/// is allocated per frame once the store has grown to the working size.
/// No fds travel on a link.
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

    private var segments: [Segment] = []
    private var first = 0
    /// Bytes of `segments[first]` already written.
    private var firstDone = 0
    private var store: UnsafeMutableRawPointer
    private var storeCapacity: Int
    private var storeUsed = 0
    private var externalCount = 0
    private var iov: [iovec] = []

    /// Bytes queued and not yet written.
    private(set) var queuedBytes = 0
    /// Total bytes written so far.
    private(set) var totalWritten: UInt64 = 0
    /// Bytes queued by reference (for tests and stats).
    private(set) var externalBytesQueued: UInt64 = 0
    /// Store capacity kept when the queue empties; more is given back.
    static let keptStore = 16 << 20
    /// Most segments per write.
    static let maxIovecs = 64

    init() {
        storeCapacity = 1 << 16
        store = .allocate(byteCount: storeCapacity, alignment: 16)
        iov.reserveCapacity(Self.maxIovecs)
    }

    deinit { store.deallocate() }

    var isEmpty: Bool { queuedBytes == 0 }

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
        segments.append(.external(pointer, length: length, owner: owner))
        externalCount += 1
        queuedBytes += length
        externalBytesQueued += UInt64(length)
    }

    /// Copies every still-queued byte of `owner` into the store, so that the
    /// owner may change or unmap its memory.
    func detach(_ owner: AnyObject) {
        guard externalCount > 0 else { return }
        for i in first..<segments.count {
            guard case .external(let p, let n, let o) = segments[i], o === owner else { continue }
            // The written part of the first segment is skipped on writing; copy the rest.
            let skip = i == first ? firstDone : 0
            let at = reserve(n)
            (store + at + skip).copyMemory(from: p + skip, byteCount: n - skip)
            segments[i] = .owned(offset: at, length: n)
            externalCount -= 1
        }
    }

    /// Drops everything queued.
    func discard() {
        segments.removeAll()
        first = 0
        firstDone = 0
        storeUsed = 0
        externalCount = 0
        queuedBytes = 0
    }

    /// Writes as much as `fd` takes. Returns true when the queue is empty.
    func flush(to fd: OwnedFD, kind: StreamKind) throws(SystemError) -> Bool {
        while queuedBytes > 0 {
            iov.removeAll(keepingCapacity: true)
            var i = first
            while i < segments.count && iov.count < Self.maxIovecs {
                let skip = i == first ? firstDone : 0
                switch segments[i] {
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
            advance(sent)
        }
        return true
    }

    private func advance(_ sent: Int) {
        var left = sent
        queuedBytes -= sent
        totalWritten += UInt64(sent)
        while left > 0 {
            let rest = segments[first].length - firstDone
            if left < rest {
                firstDone += left
                return
            }
            left -= rest
            if case .external = segments[first] { externalCount -= 1 }
            segments[first] = .owned(offset: 0, length: 0) // drop the owner reference now
            first += 1
            firstDone = 0
        }
        if first == segments.count {
            segments.removeAll(keepingCapacity: true)
            first = 0
            storeUsed = 0
            if storeCapacity > Self.keptStore {
                store.deallocate()
                storeCapacity = 1 << 16
                store = .allocate(byteCount: storeCapacity, alignment: 16)
            }
        } else if first > 4096 && first > segments.count / 2 {
            segments.removeSubrange(0..<first)
            first = 0
        }
    }

    private func addOwned(_ at: Int, _ n: Int) {
        queuedBytes += n
        if let last = segments.last, segments.count > first, case .owned(let o, let l) = last, o + l == at {
            segments[segments.count - 1] = .owned(offset: o, length: l + n)
        } else {
            segments.append(.owned(offset: at, length: n))
        }
    }

    /// Room for `n` bytes at the end of the store; returns their offset. The
    /// store only grows while bytes are queued (segments refer to offsets).
    private func reserve(_ n: Int) -> Int {
        if storeUsed + n > storeCapacity {
            // First slide the live bytes down over the written ones.
            var low = storeUsed
            for i in first..<segments.count {
                if case .owned(let o, _) = segments[i] { low = min(low, o) }
            }
            if low > 0 {
                if storeUsed > low { memmove(store, store + low, storeUsed - low) }
                storeUsed -= low
                for i in first..<segments.count {
                    if case .owned(let o, let l) = segments[i] { segments[i] = .owned(offset: o - low, length: l) }
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
