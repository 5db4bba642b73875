import Link
import Wayland

/// Syncs recorded at commits and not yet run. A commit only records (buffer,
/// damage); the connection runs them just before the data frame carrying
/// the commit goes (`ConnectionHandler.flushPending`), so the host always has
/// the pixels before it forwards the commit: frame order follows from where
/// the flush is, not from calls scattered through the handlers.
struct PoolSyncQueue {
    private struct Entry {
        var buffer: ShmBuffer
        var bufferID: UInt32
        var rects: [Rect]
        var exclusive: Bool
    }

    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }

    /// A commit of `buffer` with `rects` to bring up to date.
    mutating func record(_ buffer: ShmBuffer, bufferID: UInt32, rects: [Rect], exclusive: Bool) {
        entries.append(Entry(buffer: buffer, bufferID: bufferID, rects: rects, exclusive: exclusive))
    }

    /// Runs every recorded sync, in commit order.
    mutating func flush(channel: LinkChannel, stats: ProxyStats) throws(MessageFault) {
        guard !entries.isEmpty else { return }
        // Take the list out (a sync may not record another), and give its
        // storage back afterwards: no allocation per frame.
        var due: [Entry] = []
        swap(&due, &entries)
        for e in due {
            try e.buffer.pool.sync(e.buffer, rects: e.rects, bufferID: e.bufferID, exclusive: e.exclusive, channel: channel, stats: stats)
        }
        due.removeAll(keepingCapacity: true)
        entries = due
    }

    mutating func discard() { entries.removeAll() }
}
