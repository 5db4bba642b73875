/// porthole_buffer_view_v1's error codes (porthole-buffer-consumer-v1.xml).
public enum ViewErrorCode: UInt32, Sendable {
    case badRelease = 1
}
