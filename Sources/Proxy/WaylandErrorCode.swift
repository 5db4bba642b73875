/// wl_display's error codes (wayland.xml), sent with wl_display.error.
enum DisplayErrorCode: UInt32 {
    case invalidObject = 0
    case invalidMethod = 1
    case noMemory = 2
    case implementation = 3
}

/// wl_shm's error codes (wayland.xml).
enum ShmErrorCode: UInt32 {
    case invalidFormat = 0
    case invalidStride = 1
    case invalidFD = 2
}

/// zwp_virtual_keyboard_v1's only error code: its keymap is unusable.
enum VirtualKeyboardErrorCode: UInt32 {
    case noKeymap = 0
}
