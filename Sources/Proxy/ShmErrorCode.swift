/// wl_shm's error codes (wayland.xml).
enum ShmErrorCode: UInt32 {
    case invalidFormat = 0
    case invalidStride = 1
    case invalidFD = 2
}
