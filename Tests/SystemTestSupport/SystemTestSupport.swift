import Glibc
import PortholeSystem
import Testing

// Helpers several test targets share: blocking writes and polls on raw
// descriptors, a monotonic clock, a pty, a seeded random generator, and
// running an event loop under a watchdog thread. Temporary directories:
// TemporaryDirectory.swift.

/// Writes all of `bytes` to a (possibly non-blocking) descriptor, polling as needed.
public func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n > 0 { done += n; continue }
        if n < 0 && (errno == EAGAIN || errno == EINTR) {
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, 1000)
            continue
        }
        Issue.record("write to fd \(fd) failed: errno \(errno)")
        return
    }
}

/// Polls `fd` for `events` for up to `timeoutMs`; true if ready.
public func waitFor(_ fd: Int32, events: Int16 = Int16(POLLIN), timeoutMs: Int32 = 2000) -> Bool {
    var p = pollfd(fd: fd, events: events, revents: 0)
    return poll(&p, 1, timeoutMs) == 1
}

/// CPU time the calling thread has used, in nanoseconds.
public func threadCPUNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// Monotonic clock in nanoseconds.
public func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// What the watchdog thread needs: the socket it pokes on timeout and the one
/// whose hangup tells it to give up. It closes both when it ends.
private final class WatchdogContext {
    let wake: Int32
    let cancel: Int32
    let timeoutMs: Int32
    init(wake: Int32, cancel: Int32, timeoutMs: Int32) {
        self.wake = wake
        self.cancel = cancel
        self.timeoutMs = timeoutMs
    }
}

private func watchdogMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let ctx = Unmanaged<WatchdogContext>.fromOpaque(arg!).takeRetainedValue()
    var p = pollfd(fd: ctx.cancel, events: Int16(POLLIN), revents: 0)
    var r: Int32
    repeat { r = poll(&p, 1, ctx.timeoutMs) } while r < 0 && errno == EINTR
    if r == 0 {
        var b: UInt8 = 1
        _ = send(ctx.wake, &b, 1, Int32(MSG_NOSIGNAL))
    }
    close(ctx.wake)
    close(ctx.cancel)
    return nil
}

/// Runs `loop` until something calls `stop()`, or until `seconds` pass, when a
/// separate thread (independent of the loop's own timers) makes it stop.
/// Returns false, and records an issue, on timeout.
@discardableResult
public func runLoop(_ loop: EventLoop, timeout seconds: Double = 10) throws -> Bool {
    let (loopSide, threadWake) = try Socket.pair()
    let (testCancel, threadCancel) = try Socket.pair()
    var fired = false
    let token = try loop.register(loopSide.rawValue, events: .readable) { [unowned loop] _ in
        fired = true
        loop.stop()
    }
    let ctx = WatchdogContext(wake: threadWake.release(), cancel: threadCancel.release(), timeoutMs: Int32(seconds * 1000))
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, watchdogMain, Unmanaged.passRetained(ctx).toOpaque())
    precondition(rc == 0, "pthread_create failed")
    loop.run()
    loop.unregister(token)
    testCancel.close()
    pthread_join(thread, nil)
    if fired { Issue.record("event loop still running after \(seconds) s") }
    return !fired
}

/// Runs `loop` until `condition` holds (checked every millisecond) or the
/// timeout passes. Returns the condition.
@discardableResult
public func runLoop(_ loop: EventLoop, timeout seconds: Double = 10, until condition: @escaping () -> Bool) throws -> Bool {
    let check = try loop.addTimer(nanoseconds: 1_000_000) { [unowned loop] in
        if condition() { loop.stop() }
    }
    defer { loop.unregister(check) }
    guard try runLoop(loop, timeout: seconds) else { return false }
    return condition()
}

/// A small deterministic generator (splitmix64), so failures reproduce from their seed.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A pty master and the path of its slave. The slave is a character device
/// that `file:` can open. Glibc's Swift module leaves out the pty calls
/// (they need _XOPEN_SOURCE), so they are looked up at run time.
public func openPTY() throws -> (master: OwnedFD, slavePath: String) {
    typealias IntOfInt = @convention(c) (Int32) -> Int32
    typealias NameOf = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32
    let libc = dlopen(nil, RTLD_NOW)
    let openpt = unsafeBitCast(try #require(dlsym(libc, "posix_openpt")), to: IntOfInt.self)
    let unlockpt = unsafeBitCast(try #require(dlsym(libc, "unlockpt")), to: IntOfInt.self)
    let ptsname = unsafeBitCast(try #require(dlsym(libc, "ptsname_r")), to: NameOf.self)
    let master = OwnedFD(try syscall("posix_openpt") { openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK) })
    try syscall("unlockpt") { unlockpt(master.rawValue) }
    var name = [CChar](repeating: 0, count: 128)
    let rc = ptsname(master.rawValue, &name, name.count)
    guard rc == 0 else { throw SystemError("ptsname_r", code: rc) }
    return (master, String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
}

extension Tag {
    /// The test starts another process (a compositor, a proxy binary, QEMU,
    /// wl-copy, a shell...). The fast tier skips these:
    /// `swift test --skip-build --skip processes` (see README, Testing).
    @Tag public static var processes: Self

    /// The test runs real desktop applications (GTK, Qt, browsers, mpv,
    /// terminals) directly and through the proxies: the slowest suite, kept
    /// apart so it can be run or skipped on its own
    /// (`swift test --filter SwayApplicationMatrixTests`).
    @Tag public static var applications: Self
}

/// How many times slower than a plain debug build the code under test runs:
/// `PORTHOLE_TEST_SLOWDOWN` (scripts/sanitize sets it for AddressSanitizer),
/// else 1. The few bounds on an honest guest's wall time during a flood are
/// multiplied by it; every other expectation stays as strict.
public let testSlowdown: Double = {
    guard let text = getenv("PORTHOLE_TEST_SLOWDOWN").map({ String(cString: $0) }), let value = Double(text), value >= 1 else { return 1 }
    return value
}()
