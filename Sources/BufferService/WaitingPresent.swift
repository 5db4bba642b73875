/// A present some views have not released yet (seed 004's wait-for-release:
/// the producer hears `released` once `holders` is empty).
struct WaitingPresent {
    let sequence: UInt32
    /// The views (by identity) that were told of it and still hold it.
    var holders: Set<ObjectIdentifier>
}
