import Sharing

/// A registration of a guest's shared region that the guest proxy made for
/// a producer's `allocate`: its bytes, and the buffer that claimed it with
/// `register_region` (each registration is claimed once, by one buffer).
struct RegionClaim {
    let range: MemoryRange
    var buffer: UInt32?
}
