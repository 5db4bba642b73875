/// What a `BufferConsumerClient` reports, in the order it happened.
public enum ConsumerEvent: Sendable {
    /// A buffer arrived with all its properties (`buffers[id]`).
    case added(id: UInt32)
    /// Buffer `id` holds the content of `sequence`; release it when done.
    case updated(id: UInt32, sequence: UInt32, damage: [Int32], renderUsec: UInt32)
    case removed(id: UInt32)
    case reset(guest: String, generation: UInt32)
    case guestConnected(String)
    case guestDisconnected(String)
}
