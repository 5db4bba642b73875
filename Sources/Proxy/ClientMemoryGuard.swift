import PortholeSystem
import Wayland

/// Reads of a client's pool memory that survive the client truncating its
/// file mid-read: the mapping then holds zeros and the client gets wl_shm's
/// invalid_fd error (as compositors report a pool they can no longer read),
/// instead of the proxy dying of SIGBUS.
enum ClientMemoryGuard {
    /// Runs `body`, which reads the mapping at `base`.
    static func read<T>(_ base: UnsafeRawPointer, length: Int, bufferID: UInt32, stats: ProxyStats, _ body: () -> T) throws(MessageFault) -> T {
        let outcome: MemoryFaultGuard.Outcome<T>
        do { outcome = try MemoryFaultGuard.reading(base, length: length, body) } catch {
            throw .implementation("cannot read the pool safely: \(error)")
        }
        if outcome.faulted {
            stats.memoryFaults += 1
            throw shrank(bufferID, length)
        }
        return outcome.value
    }

    /// wl_shm's invalid_fd error for a pool file that shrank below `size`.
    static func shrank(_ bufferID: UInt32, _ size: Int) -> MessageFault {
        .shm(.invalidFD, object: bufferID, "error accessing SHM buffer: the pool file shrank below \(size) bytes")
    }
}
