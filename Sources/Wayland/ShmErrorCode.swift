/// wl_shm's error codes (wayland.xml).
public enum ShmErrorCode: UInt32 {
    case invalidFormat = 0
    case invalidStride = 1
    case invalidFD = 2
}
