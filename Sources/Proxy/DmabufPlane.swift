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
    /// DRM_FORMAT_MOD_INVALID: "the driver's implicit layout". Read as
    /// linear, which it is for dumb buffers and Mesa's kms_swrast (whose GBM
    /// buffers carry it, as weston-simple-dmabuf-egl's do); a driver that
    /// tiles implicitly would show scrambled pixels, never more: the bounds
    /// checks are the same.
    static let implicit: UInt64 = 0x00FF_FFFF_FFFF_FFFF
    /// The modifiers offered for every format.
    static let offered: [UInt64] = [linear, implicit]
}
