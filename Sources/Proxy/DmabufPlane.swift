import PortholeSystem

/// One zwp_linux_buffer_params_v1.add: a plane of a buffer, as the client
/// described it, with the dma-buf it lives in.
struct DmabufPlane {
    let fd: OwnedFD
    let offset: UInt32
    let stride: UInt32
    let modifier: UInt64

    /// DRM_FORMAT_MOD_LINEAR: rows one after the other, stride bytes apart.
    /// The only layout the proxy can read with the CPU and hand on as wl_shm.
    static let linear: UInt64 = 0
}
