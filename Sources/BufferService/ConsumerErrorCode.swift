/// porthole_buffer_consumer_v1's error codes (porthole-buffer-consumer-v1.xml).
public enum ConsumerErrorCode: UInt32, Sendable {
    case badFilter = 1
    case tooManySubscriptions = 2
    case tooSlow = 3
}
