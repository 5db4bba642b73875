/// How a commit maps surface damage into buffer coordinates: damage of one
/// commit can stand for another buffer's damage only if these agree.
struct CommitGeometry: Equatable {
    var width: Int
    var height: Int
    var scale: Int
    var transform: Int
    var viewport: ViewportState
}
