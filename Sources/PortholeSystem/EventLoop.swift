import CPorthole
import Glibc

/// A single-threaded epoll loop. It is not Sendable: create it, register
/// handlers and call `run()` on one thread. Handlers may register and
/// unregister descriptors (their own included) while they run.
public final class EventLoop {
    /// Readiness events, as epoll reports them.
    public struct Events: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: EPOLLIN.rawValue)
        public static let writable = Events(rawValue: EPOLLOUT.rawValue)
        public static let hangup = Events(rawValue: EPOLLHUP.rawValue | EPOLLRDHUP.rawValue)
        public static let error = Events(rawValue: EPOLLERR.rawValue)
    }

    /// Identifies a registration; pass it to `unregister`.
    public struct Token: Hashable, Sendable { fileprivate let value: UInt64 }

    private struct Entry {
        var fd: Int32
        /// What epoll watches for it now (`modify` skips a change to the same).
        var events: Events
        var handler: (Events) -> Void
    }

    private let epoll: OwnedFD
    private var entries: [UInt64: Entry] = [:]
    private var nextToken: UInt64 = 1
    private var deferred: [() -> Void] = []
    /// Work that yielded its turn: it runs in the next iteration, after the
    /// handlers of whatever became ready by then (see `nextTurn`).
    private var yielded: [() -> Void] = []
    /// Work to run once a monotonic time (ns) has passed, soonest first.
    private var timed: [(deadline: UInt64, work: () -> Void)] = []
    private var running = false
    private var keepAlive: [UInt64: OwnedFD] = [:]

    public init() throws(SystemError) {
        epoll = OwnedFD(try syscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
        Self.takeBrokenPipesAsErrors()
    }

    /// Pipes (a clipboard transfer's) are written with write(2), which has
    /// no MSG_NOSIGNAL: a reader gone away would end the whole process with
    /// SIGPIPE instead of failing that one write with EPIPE. A process that
    /// runs a loop takes EPIPE, as `porthole` does from its first line; the
    /// test process, which runs proxies in-process, once died of it.
    /// `ChildProcess` gives children the default back. A handler someone
    /// installed is left alone.
    private static func takeBrokenPipesAsErrors() {
        var current = sigaction()
        guard sigaction(SIGPIPE, nil, &current) == 0,
              unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_DFL, to: Int.self) else { return }
        signal(SIGPIPE, SIG_IGN)
    }

    /// Watches `fd` for `events` and calls `handler` when any is ready.
    public func register(_ fd: Int32, events: Events, handler: @escaping (Events) -> Void) throws(SystemError) -> Token {
        let token = nextToken
        nextToken += 1
        var ev = epoll_event()
        ev.events = events.rawValue | EPOLLRDHUP.rawValue
        ev.data.u64 = token
        try syscall("epoll_ctl ADD fd \(fd)") { epoll_ctl(epoll.rawValue, EPOLL_CTL_ADD, fd, &ev) }
        entries[token] = Entry(fd: fd, events: events, handler: handler)
        return Token(value: token)
    }

    /// Changes the events watched for a registration. Connections call it
    /// after every read and write with what they want now, which is nearly
    /// always what they wanted before: the same set costs no system call.
    public func modify(_ token: Token, events: Events) {
        guard let entry = entries[token.value], entry.events != events else { return }
        entries[token.value]?.events = events
        var ev = epoll_event()
        ev.events = events.rawValue | EPOLLRDHUP.rawValue
        ev.data.u64 = token.value
        _ = epoll_ctl(epoll.rawValue, EPOLL_CTL_MOD, entry.fd, &ev)
    }

    /// Stops watching. Safe to call from inside any handler; safe to call twice.
    public func unregister(_ token: Token) {
        guard let entry = entries.removeValue(forKey: token.value) else { return }
        _ = epoll_ctl(epoll.rawValue, EPOLL_CTL_DEL, entry.fd, nil)
        keepAlive.removeValue(forKey: token.value)
    }

    /// Runs `work` after the handlers of the current iteration have finished.
    public func defer_(_ work: @escaping () -> Void) { deferred.append(work) }

    /// Runs `work` in the next iteration, after the handlers of everything
    /// that is ready by then, without sleeping in between. For a handler
    /// that has more to do than one turn allows: it does a bounded share,
    /// yields, and every other ready descriptor is served before its next
    /// share (work deferred with `defer_` would run before anyone else).
    public func nextTurn(_ work: @escaping () -> Void) { yielded.append(work) }

    /// Runs `work` once, `seconds` from now. Unlike `addTimer`, this needs no
    /// descriptor, so it works when the process has none left to open.
    public func after(_ seconds: Double, _ work: @escaping () -> Void) {
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, seconds) * 1e9)
        let at = timed.firstIndex { $0.deadline > deadline } ?? timed.count
        timed.insert((deadline, work), at: at)
    }

    /// Calls `handler` every `interval` nanoseconds (or once, if `repeating` is false).
    @discardableResult
    public func addTimer(nanoseconds interval: UInt64, repeating: Bool = true, handler: @escaping () -> Void) throws(SystemError) -> Token {
        let fd = OwnedFD(try syscall("timerfd_create") { timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC) | Int32(TFD_NONBLOCK)) })
        var spec = itimerspec()
        let ns = max(interval, 1)
        spec.it_value = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        if repeating { spec.it_interval = spec.it_value }
        try syscall("timerfd_settime") { timerfd_settime(fd.rawValue, 0, &spec, nil) }
        var tokenBox: Token?
        let token = try register(fd.rawValue, events: .readable) { [unowned self] _ in
            var expirations: UInt64 = 0
            _ = try? withUnsafeMutableBytes(of: &expirations) { try fd.readSome(into: $0) }
            if !repeating, let t = tokenBox { self.unregister(t) }
            handler()
        }
        tokenBox = token
        keepAlive[token.value] = fd
        return token
    }

    /// Blocks `signals` for this thread and calls `handler` with each one delivered.
    @discardableResult
    public func onSignals(_ signals: [Int32], handler: @escaping (Int32) -> Void) throws(SystemError) -> Token {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let fd = OwnedFD(try syscall("signalfd") { signalfd(-1, &set, Int32(SFD_CLOEXEC) | Int32(SFD_NONBLOCK)) })
        let token = try register(fd.rawValue, events: .readable) { _ in
            var info = signalfd_siginfo()
            let whole = Socket.Received.bytes(MemoryLayout<signalfd_siginfo>.size)
            while (try? withUnsafeMutableBytes(of: &info) { try fd.readSome(into: $0) }) == whole {
                handler(Int32(info.ssi_signo))
            }
        }
        keepAlive[token.value] = fd
        return token
    }

    /// Makes `run()` return after the current iteration.
    public func stop() { running = false }

    /// Dispatches events until `stop()` is called.
    public func run() {
        running = true
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while running {
            runDeferred()
            guard running else { break }
            _ = waitAndDispatch(&events, milliseconds: -1)
        }
        runDeferred()
    }

    /// One step of `run()`, for a caller that drives the loop itself (tests
    /// that pump it in small steps between their own actions): runs deferred
    /// work, waits at most `timeout` seconds (0: not at all) for events,
    /// dispatches them and the work that yielded its turn, and runs the work
    /// they deferred. Returns how many events and yielded works ran. Not to
    /// be called from inside a handler.
    @discardableResult
    public func runOnce(timeout: Double) -> Int {
        runDeferred()
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        let n = waitAndDispatch(&events, milliseconds: Int32(max(0, min(timeout, 3600)) * 1000))
        runDeferred()
        return n
    }

    /// One epoll_wait (-1: no time limit; 0 when work yielded its turn) and
    /// the handlers of what it returned, then the yielded work.
    private func waitAndDispatch(_ events: inout [epoll_event], milliseconds: Int32) -> Int {
        let resumed = yielded
        yielded.removeAll()
        let wait = resumed.isEmpty ? waitNanoseconds(upTo: milliseconds) : 0
        let n = epollWait(&events, nanoseconds: wait)
        if n < 0 {
            if errno == EINTR { yielded.insert(contentsOf: resumed, at: 0); return 0 }
            fatalError("epoll_wait: \(SystemError("epoll_wait"))")
        }
        for i in 0..<Int(n) {
            let token = events[i].data.u64
            guard let entry = entries[token] else { continue }
            entry.handler(Events(rawValue: events[i].events))
        }
        for work in resumed { work() }
        return Int(n) + resumed.count
    }

    /// How long epoll may wait, in ns: `limit` ms (-1: for ever), or less
    /// when timed work falls due sooner.
    private func waitNanoseconds(upTo limit: Int32) -> Int64 {
        let bound: Int64 = limit < 0 ? -1 : Int64(limit) * 1_000_000
        guard let first = timed.first else { return bound }
        let now = MonotonicClock.nanoseconds()
        let ns = first.deadline <= now ? 0 : Int64(clamping: first.deadline - now)
        return bound < 0 ? ns : min(bound, ns)
    }

    /// epoll_pwait2 where the kernel has it (5.11 on): a 0.2 ms `after`
    /// waits 0.2 ms, where epoll_wait's milliseconds made it a whole one (a
    /// sliced sync waiting for the link then went at a slice a millisecond).
    private var preciseWait = true

    private func epollWait(_ events: inout [epoll_event], nanoseconds: Int64) -> Int32 {
        let fd = epoll.rawValue
        return events.withUnsafeMutableBufferPointer { buffer -> Int32 in
            if nanoseconds > 0 && preciseWait {
                var ts = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
                let n = epoll_pwait2(fd, buffer.baseAddress, Int32(buffer.count), &ts, nil)
                if n >= 0 || errno != ENOSYS { return n }
                preciseWait = false
            }
            let ms = nanoseconds < 0 ? -1 : Int32(clamping: (nanoseconds + 999_999) / 1_000_000)
            return epoll_wait(fd, buffer.baseAddress, Int32(buffer.count), ms)
        }
    }

    private func runDeferred() {
        if let first = timed.first, first.deadline <= MonotonicClock.nanoseconds() {
            let now = MonotonicClock.nanoseconds()
            let due = timed.prefix { $0.deadline <= now }
            timed.removeFirst(due.count)
            for d in due { deferred.append(d.work) }
        }
        while !deferred.isEmpty {
            let work = deferred
            deferred.removeAll()
            for w in work { w() }
        }
    }
}
