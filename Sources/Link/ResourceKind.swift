/// What a resource stands for on the side that receives it.
public enum ResourceKind: UInt32, Sendable {
    /// A wl_shm pool: grows, receives updates, is passed as a read-write fd.
    case shmPool = 0
    /// A read-only file (keymap, format table): content arrives once, then it is sealed.
    case readOnlyFile = 1
    /// The write end of a pipe: the receiver makes a pipe, passes its write end
    /// on, and sends what it reads back as pipe-data frames.
    case pipe = 2
    /// The shared region (feature `sharedRegion`): the receiver passes its own
    /// region fd; `size` is the region's size. Never updated or extended.
    case region = 3
    /// A sharing region the host declared for this guest and others
    /// (feature `bufferConsumers`, host to guest only): the guest passes its
    /// own fd of that region; `size` is the region's size. Never updated.
    case commonRegion = 4
}
