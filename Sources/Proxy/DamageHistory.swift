/// Per wl_buffer, the damage the surface took since that buffer was last
/// committed: what a double- (or triple-) buffered client repaints in it
/// before committing it again. When buffer B is committed, the bytes that
/// may differ from the host's copy of B are this commit's damage plus the
/// damage of every commit of the surface since B was last committed; the
/// rest of B is what the host already has. Without this, every commit of a
/// buffer other than the last one counts as whole-buffer damage.
///
/// Whenever it is unsure, it answers the whole buffer: the first commit of
/// a buffer, a buffer last committed on another surface (or on a surface
/// since destroyed), a commit in between with a different size, scale,
/// transform or viewport, a commit with no buffer, buffers that share pool
/// bytes with another buffer (`aliased`), after a pool resize, and more than
/// `maxRects` rectangles.
struct DamageHistory {
    struct Entry {
        /// Serial of the surface it was last committed on; nil: never.
        var surface: UInt64?
        var geometry: CommitGeometry?
        /// Damage of the surface's commits since, in buffer coordinates.
        var missed: [Rect] = []
        /// The whole buffer must be compared at its next commit.
        var whole = true
        /// Shares bytes with another buffer of its pool: always whole.
        var aliased = false
    }

    /// Most rectangles kept per buffer; beyond that the whole buffer counts.
    static let maxRects = 256
    private(set) var entries: [UInt32: Entry] = [:]
    /// Surface serial -> buffers committed on it (the last few).
    private var recent: [UInt64: [UInt32]] = [:]
    /// Buffers remembered per surface; an older one counts as whole next time.
    static let buffersPerSurface = 8

    /// A new wl_buffer (its first commit is whole).
    mutating func created(_ buffer: UInt32, aliased: Bool = false) {
        entries[buffer] = Entry(aliased: aliased)
    }

    mutating func destroyed(_ buffer: UInt32) {
        entries.removeValue(forKey: buffer)
    }

    /// The buffer shares bytes with another one from now on.
    mutating func markAliased(_ buffer: UInt32) {
        entries[buffer]?.aliased = true
        entries[buffer]?.whole = true
    }

    /// The next commit of the buffer compares all of it.
    mutating func markWhole(_ buffer: UInt32) {
        entries[buffer]?.whole = true
        entries[buffer]?.missed.removeAll()
    }

    mutating func surfaceDestroyed(_ serial: UInt64) {
        for b in recent.removeValue(forKey: serial) ?? [] { markWhole(b) }
    }

    /// A commit of surface `serial` showing `buffer` (nil: no buffer) with
    /// `damage` (already in buffer coordinates and clipped). Returns the
    /// rectangles of the buffer to compare with the host's copy.
    mutating func commit(surface serial: UInt64, buffer: UInt32?, geometry: CommitGeometry, damage: [Rect]) -> [Rect] {
        let wholeRect = Rect(x: 0, y: 0, width: geometry.width, height: geometry.height)
        var list = recent[serial] ?? []
        // What the other buffers of this surface miss.
        for b in list where b != buffer {
            guard var e = entries[b], e.surface == serial, !e.whole else { continue }
            if e.geometry != geometry || buffer == nil || e.missed.count + damage.count > Self.maxRects {
                e.whole = true
                e.missed.removeAll()
            } else {
                e.missed.append(contentsOf: damage)
            }
            entries[b] = e
        }
        guard let buffer, var e = entries[buffer] else {
            recent[serial] = list
            return buffer == nil ? [] : [wholeRect]
        }
        var rects: [Rect]
        if e.whole || e.aliased || e.surface != serial || e.geometry != geometry || e.missed.count + damage.count > Self.maxRects {
            rects = [wholeRect]
        } else {
            rects = Self.union(e.missed + damage, within: wholeRect)
        }
        e.surface = serial
        e.geometry = geometry
        e.missed.removeAll(keepingCapacity: true)
        e.whole = false
        entries[buffer] = e
        if let i = list.firstIndex(of: buffer) { list.remove(at: i) }
        list.append(buffer)
        if list.count > Self.buffersPerSurface {
            let evicted = list.removeFirst()
            markWhole(evicted)
        }
        recent[serial] = list
        return rects
    }

    /// `rects` clipped to `bounds`, without empty ones or ones inside
    /// another; the bounds alone if one covers them.
    static func union(_ rects: [Rect], within bounds: Rect) -> [Rect] {
        var clipped: [Rect] = []
        for r in rects {
            let c = r.clipped(to: bounds)
            if c.isEmpty { continue }
            if c == bounds { return [bounds] }
            clipped.append(c)
        }
        var out: [Rect] = []
        for (i, r) in clipped.enumerated() {
            let covered = clipped.enumerated().contains { j, o in
                j != i && o.contains(r) && (o != r || j < i)
            }
            if !covered { out.append(r) }
        }
        return out
    }
}

extension Rect {
    func contains(_ r: Rect) -> Bool {
        r.x >= x && r.y >= y && r.x + r.width <= x + width && r.y + r.height <= y + height
    }
}
