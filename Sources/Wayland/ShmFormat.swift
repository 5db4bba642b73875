/// Bytes per pixel of a wl_shm format, or nil when the proxy does not know it
/// (then whole rows are considered).
public func bytesPerPixel(shmFormat f: UInt32) -> Int? {
    func fourcc(_ s: String) -> UInt32 {
        let b = Array(s.utf8)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
    switch f {
    case 0, 1: return 4 // argb8888, xrgb8888
    case fourcc("AB24"), fourcc("XB24"), fourcc("RA24"), fourcc("RX24"), fourcc("BA24"), fourcc("BX24"),
         fourcc("AR30"), fourcc("XR30"), fourcc("AB30"), fourcc("XB30"): return 4
    case fourcc("RG16"), fourcc("BG16"), fourcc("AR15"), fourcc("XR15"), fourcc("AR12"), fourcc("XR12"): return 2
    case fourcc("RG24"), fourcc("BG24"): return 3
    case fourcc("AR4H"), fourcc("XR4H"), fourcc("AB4H"), fourcc("XB4H"): return 8
    case fourcc("R8  "), fourcc("C8  "): return 1
    default: return nil
    }
}

/// The wl_shm format code for a DRM fourcc name as a producer gives it in its
/// `format` property ("XRGB8888", or the four-character code "XR24"), or nil.
/// wl_shm numbers its two oldest formats 0 and 1 instead of their fourccs.
public func shmFormat(drmName name: String) -> UInt32? {
    func fourcc(_ s: String) -> UInt32 {
        let b = Array(s.utf8)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
    let named: [String: String] = ["ARGB8888": "AR24", "XRGB8888": "XR24", "ABGR8888": "AB24", "XBGR8888": "XB24",
                                   "RGBA8888": "RA24", "RGBX8888": "RX24", "BGRA8888": "BA24", "BGRX8888": "BX24",
                                   "RGB565": "RG16", "BGR565": "BG16", "RGB888": "RG24", "BGR888": "BG24"]
    guard let code = named[name] ?? (name.utf8.count == 4 ? name : nil) else { return nil }
    switch code {
    case "AR24": return 0
    case "XR24": return 1
    default: return fourcc(code)
    }
}

/// DRM fourccs of wl_shm's two oldest formats, which wl_shm numbers 0 and 1.
private let drmARGB8888: UInt32 = 0x3432_5241 // "AR24"
private let drmXRGB8888: UInt32 = 0x3432_5258 // "XR24"

/// The DRM fourcc of a wl_shm format: the same code, except for 0 and 1.
public func drmFourcc(shmFormat f: UInt32) -> UInt32 {
    switch f {
    case 0: return drmARGB8888
    case 1: return drmXRGB8888
    default: return f
    }
}

/// The wl_shm format of a DRM fourcc: the same code, except for ARGB8888 and XRGB8888.
public func shmFormat(drmFourcc f: UInt32) -> UInt32 {
    switch f {
    case drmARGB8888: return 0
    case drmXRGB8888: return 1
    default: return f
    }
}
