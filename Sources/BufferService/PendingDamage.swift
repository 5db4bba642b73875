/// The rectangles a producer reported since its last present, as the
/// consumer protocol carries them: int32 x, y, width, height each, native
/// byte order. Past the limit the update counts as the whole buffer (an
/// empty list), which keeps every `updated` event small.
struct PendingDamage {
    private(set) var rectangles: [Int32] = []
    private(set) var whole = false

    mutating func add(x: Int32, y: Int32, width: Int32, height: Int32, limit: Int) {
        guard !whole else { return }
        guard rectangles.count / 4 < limit else {
            whole = true
            rectangles.removeAll()
            return
        }
        rectangles += [x, y, width, height]
    }

    /// The rectangles, int32 x, y, width, height each; empty for the whole buffer.
    var rects: [Int32] { whole ? [] : rectangles }

    /// The `damage` array of `porthole_buffer_view_v1.updated`.
    var wireBytes: [UInt8] {
        guard !whole else { return [] }
        return rectangles.withUnsafeBytes { Array($0) }
    }
}
