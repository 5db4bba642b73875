/// porthole_buffer_v1's error codes (porthole-buffer-producer-v1.xml).
public enum ProducedBufferErrorCode: UInt32, Sendable {
    case badProperty = 1
    case published = 2
    case notPublished = 3
    case badSequence = 4
    case badDamage = 5
    case tooManyReferences = 6
    case quota = 7
    case unknownGuest = 8
}
