/// zwp_virtual_keyboard_v1's only error code: its keymap is unusable.
enum VirtualKeyboardErrorCode: UInt32 {
    case noKeymap = 0
}
