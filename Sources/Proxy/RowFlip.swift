/// Where a row of a buffer's host copy is read from in the client's memory:
/// the same row, or for a y-inverted buffer (rows stored bottom first) the
/// mirrored one. A plain value, so a copy on another thread can use it.
struct RowFlip: Sendable {
    var inverted: Bool
    var offset: Int
    var stride: Int
    var height: Int

    /// How far from pool offset `start` (in one row of the buffer) the
    /// client's byte is: 0, or the distance to the mirrored row.
    func shift(at start: Int) -> Int {
        guard inverted else { return 0 }
        let row = (start - offset) / stride
        return (height - 1 - 2 * row) * stride
    }
}
