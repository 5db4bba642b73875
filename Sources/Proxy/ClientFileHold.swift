/// Whether a client's pool file still holds the pool. A shm client may shrink
/// its file behind the proxy's back, so each read of the pool asks first —
/// one `fstat` a commit — unless the file was seen sealed against shrinking
/// while it held the pool: seals are never removed, so that yes is kept.
/// (A later growth is checked against the file before the pool grows, and a
/// sealed file can never again be smaller than it was then.)
struct ClientFileHold {
    /// Seen sealed against shrinking while holding the pool.
    private(set) var sealed = false

    /// Whether `file` can never again be smaller than `size` bytes. The seals
    /// are read before the size: a client may shrink its file and seal it
    /// afterwards, between a sync's size check and this look at the seals.
    mutating func cannotShrink(_ file: ClientFile, below size: Int) -> Bool {
        if sealed { return true }
        sealed = file.sealedAgainstShrink() && file.size() >= size
        return sealed
    }

    /// Whether `file` holds `size` bytes now (asked of the kernel unless sealed).
    func holds(_ file: ClientFile, _ size: Int) -> Bool { sealed || file.size() >= size }
}
