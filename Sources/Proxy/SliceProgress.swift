/// Where work run in slices stands after one slice (`ConnectionHandler.advancePending`).
enum SliceProgress: Equatable {
    /// Nothing is left.
    case done
    /// More slices are due; the next one on the next loop turn.
    case more
    /// More slices are due once the link has written what it holds.
    case waitForLink
    /// The worker is copying; its completion resumes the slicing.
    case waitForWorker
}
