import CPorthole
import Glibc

/// Reads of memory another process can take away. A wl_shm client may
/// truncate the file behind its pool while we read the mapping; the read then
/// raises SIGBUS, which would end the whole proxy. Inside `reading`, such a
/// fault replaces the guarded range with zero-filled memory, the read
/// finishes with zeros, and the caller learns that it happened so it can drop
/// that client. Faults anywhere else still reach the previous handler.
///
/// One guarded range per thread at a time (not nested).
public enum MemoryFaultGuard {
    /// The result of a guarded read.
    public struct Outcome<T> {
        /// What the body returned (computed partly from zeros if `faulted`).
        public var value: T
        /// Whether the guarded range faulted. The range then holds anonymous
        /// zero pages, not the file: stop using that mapping.
        public var faulted: Bool
    }

    /// Runs `body`, which reads from the `length` bytes at `base`, with
    /// SIGBUS faults in that range caught. Throws `SystemError` (EBUSY) if
    /// this thread already guards a range.
    public static func reading<T>(_ base: UnsafeRawPointer, length: Int, _ body: () -> T) throws(SystemError) -> Outcome<T> {
        guard porthole_fault_guard_begin(base, length) == 0 else {
            throw SystemError("guard \(length) bytes against SIGBUS")
        }
        let value = body()
        let faults = porthole_fault_guard_end()
        return Outcome(value: value, faulted: faults > 0)
    }

    /// Whether the range this thread guards has faulted so far, for a
    /// reader that must report a fault before it hands its result on.
    public static var hasFaulted: Bool { porthole_fault_guard_count() > 0 }
}
