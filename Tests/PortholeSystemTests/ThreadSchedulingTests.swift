import Glibc
import PortholeSystem
import Synchronization
import Testing

@Suite("Thread scheduling") struct ThreadSchedulingTests {
    /// Slices read on a thread of its own (the test runner's threads keep
    /// theirs): the one it asked for, then the one a thread it starts has.
    final class Slices: Sendable {
        let values = Mutex<(asked: UInt64, child: UInt64, error: String?)>((0, 0, nil))
    }

    /// Whether the running kernel honours a SCHED_NORMAL thread's slice (6.12+).
    static var kernelSetsSlices: Bool {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return false }
        return parts[0] > 6 || (parts[0] == 6 && parts[1] >= 12)
    }

    static func onThread(_ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        var t = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        #expect(pthread_create(&t, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box) == 0)
        pthread_join(t, nil)
    }

    @Test("a loop's short time slice is its own: a thread it starts afterwards gets the kernel's default")
    func shortSliceIsNotInherited() {
        let slices = Slices()
        Self.onThread {
            do { try ThreadScheduling.requestTimeSlice(nanoseconds: ThreadScheduling.shortestSlice) } catch {
                slices.values.withLock { $0.error = "\(error)" }
                return
            }
            let asked = ThreadScheduling.requestedTimeSlice
            Self.onThread {
                let child = ThreadScheduling.requestedTimeSlice
                slices.values.withLock { $0.child = child }
            }
            slices.values.withLock { $0.asked = asked }
        }
        let v = slices.values.withLock { $0 }
        #expect(v.error == nil)
        if Self.kernelSetsSlices {
            #expect(v.asked == ThreadScheduling.shortestSlice)
            #expect(v.child != ThreadScheduling.shortestSlice)
        }
        #expect(ThreadScheduling.requestedTimeSlice != ThreadScheduling.shortestSlice || !Self.kernelSetsSlices)
    }
}
