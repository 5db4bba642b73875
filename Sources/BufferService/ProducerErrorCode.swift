/// porthole_buffer_producer_v1's error codes (porthole-buffer-producer-v1.xml).
public enum ProducerErrorCode: UInt32, Sendable {
    case badRange = 1
    case badApplication = 2
    case quota = 3
    case badFD = 4
    case noRegion = 5
    case badRegistration = 6
}
