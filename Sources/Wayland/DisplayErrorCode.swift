/// wl_display's error codes (wayland.xml), sent with wl_display.error.
public enum DisplayErrorCode: UInt32, Sendable {
    case invalidObject = 0
    case invalidMethod = 1
    case noMemory = 2
    case implementation = 3
}
