import Glibc
import PortholeSystem
import SystemTestSupport
import Testing

@Suite struct EventLoopTests {
    @Test func readableHandlerGetsTheData() throws {
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        let (quiet, quietPeer) = try Socket.pair() // the peer stays open: no hangup
        var received: [UInt8] = []
        var sawEvents: EventLoop.Events = []
        var quietCalls = 0
        _ = try loop.register(quiet.rawValue, events: .readable) { _ in quietCalls += 1 }
        _ = try loop.register(b.rawValue, events: .readable) { [unowned loop] events in
            sawEvents = events
            var buf = [UInt8](repeating: 0, count: 16)
            let n = read(b.rawValue, &buf, 16)
            if n > 0 { received += buf[0..<n] }
            if received.count >= 3 { loop.stop() }
        }
        writeAll(a.rawValue, [1, 2, 3])
        try runLoop(loop)
        #expect(received == [1, 2, 3])
        #expect(sawEvents.contains(.readable))
        #expect(quietCalls == 0, "a descriptor with nothing to read is not reported")
        withExtendedLifetime(quietPeer) {}
    }

    @Test func runOnceDispatchesWhatIsReadyAndRunsDeferredWork() throws {
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        var order: [String] = []
        _ = try loop.register(b.rawValue, events: .readable) { [unowned loop] _ in
            var buf = [UInt8](repeating: 0, count: 16)
            _ = read(b.rawValue, &buf, 16)
            order.append("read")
            loop.defer_ { order.append("deferred") }
        }
        let start = monotonicNow()
        #expect(loop.runOnce(timeout: 0.05) == 0, "nothing ready: it waits out the timeout")
        #expect(monotonicNow() - start >= 40_000_000)
        #expect(loop.runOnce(timeout: 0) == 0)
        writeAll(a.rawValue, [1])
        #expect(loop.runOnce(timeout: 1) == 1)
        #expect(order == ["read", "deferred"])
    }

    @Test func hangupIsReported() throws {
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        var events: EventLoop.Events = []
        _ = try loop.register(b.rawValue, events: .readable) { [unowned loop] e in
            events = e
            loop.stop()
        }
        a.close()
        try runLoop(loop)
        #expect(!events.isDisjoint(with: .hangup), "peer close shows as hangup (EPOLLRDHUP)")
    }

    @Test func modifyChangesTheWatchedEvents() throws {
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        var calls: [EventLoop.Events] = []
        let token = try loop.register(b.rawValue, events: .readable) { [unowned loop] e in
            calls.append(e)
            loop.stop()
        }
        // Nothing to read: only the switch to writable can wake the loop.
        let switchTimer = try loop.addTimer(nanoseconds: 20_000_000, repeating: false) { [unowned loop] in
            #expect(calls.isEmpty, "readable reported with nothing to read")
            loop.modify(token, events: .writable)
        }
        _ = switchTimer
        try runLoop(loop)
        #expect(calls.count == 1)
        #expect(calls.first?.contains(.writable) == true)
        withExtendedLifetime(a) {}
    }

    @Test func oneShotTimerFiresOnce() throws {
        let loop = try EventLoop()
        var fired: [UInt64] = []
        let start = monotonicNow()
        try loop.addTimer(nanoseconds: 20_000_000, repeating: false) { fired.append(monotonicNow() - start) }
        try loop.addTimer(nanoseconds: 150_000_000, repeating: false) { [unowned loop] in loop.stop() }
        try runLoop(loop)
        #expect(fired.count == 1)
        #expect((fired.first ?? 0) >= 20_000_000, "fired after \(fired.first ?? 0) ns")
    }

    @Test func repeatingTimerKeepsFiring() throws {
        let loop = try EventLoop()
        var count = 0
        let start = monotonicNow()
        var elapsed: UInt64 = 0
        try loop.addTimer(nanoseconds: 10_000_000) { [unowned loop] in
            count += 1
            if count == 5 {
                elapsed = monotonicNow() - start
                loop.stop()
            }
        }
        try runLoop(loop)
        #expect(count == 5)
        #expect(elapsed >= 50_000_000, "5 ticks of 10 ms took only \(elapsed) ns")
    }

    @Test func unregisteringATimerInsideItsHandlerStopsIt() throws {
        let loop = try EventLoop()
        var count = 0
        var token: EventLoop.Token?
        token = try loop.addTimer(nanoseconds: 5_000_000) { [unowned loop] in
            count += 1
            if count == 3, let t = token {
                loop.unregister(t)
                loop.unregister(t) // twice is harmless
                // Give it ten more periods to misbehave.
                _ = try? loop.addTimer(nanoseconds: 50_000_000, repeating: false) { loop.stop() }
            }
        }
        try runLoop(loop)
        #expect(count == 3)
    }

    @Test func timerUnregisteredBeforeItFiresNeverFires() throws {
        let loop = try EventLoop()
        var fired = false
        let t = try loop.addTimer(nanoseconds: 10_000_000, repeating: false) { fired = true }
        loop.unregister(t)
        try loop.addTimer(nanoseconds: 60_000_000, repeating: false) { [unowned loop] in loop.stop() }
        try runLoop(loop)
        #expect(!fired)
    }

    @Test func signalIsDeliveredThroughTheLoop() throws {
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &old)
        defer {
            // Nothing may stay pending once SIGUSR1 is unblocked again.
            var pending = sigset_t()
            sigpending(&pending)
            #expect(sigismember(&pending, SIGUSR1) == 0, "SIGUSR1 left pending")
            if sigismember(&pending, SIGUSR1) == 1 {
                var only = sigset_t()
                sigemptyset(&only)
                sigaddset(&only, SIGUSR1)
                var zero = timespec()
                _ = sigtimedwait(&only, nil, &zero)
            }
            pthread_sigmask(SIG_SETMASK, &old, nil)
        }
        let loop = try EventLoop()
        var signals: [Int32] = []
        try loop.onSignals([SIGUSR1, SIGUSR2]) { [unowned loop] s in
            signals.append(s)
            loop.stop()
        }
        var mask = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &mask)
        #expect(sigismember(&mask, SIGUSR1) == 1, "onSignals blocks the signal for this thread")
        // raise() targets this thread, where the signal is blocked, so it can
        // only be seen through the signalfd.
        #expect(raise(SIGUSR1) == 0)
        try runLoop(loop)
        #expect(signals == [SIGUSR1])
    }

    @Test func unregisteringAnotherHandlerInsideAHandlerSuppressesItsPendingEvent() throws {
        let loop = try EventLoop()
        let (a1, b1) = try Socket.pair()
        let (a2, b2) = try Socket.pair()
        writeAll(a1.rawValue, [1])
        writeAll(a2.rawValue, [2])
        var calls: [Int] = []
        var tokens: [EventLoop.Token] = []
        for (i, fd) in [b1, b2].enumerated() {
            tokens.append(try loop.register(fd.rawValue, events: .readable) { [unowned loop] _ in
                calls.append(i)
                // Both are ready in the same epoll_wait; the other one must not run.
                loop.unregister(tokens[1 - i])
                loop.defer_ { loop.stop() }
            })
        }
        try runLoop(loop)
        #expect(calls.count == 1, "calls: \(calls)")
        _ = (a1, a2)
    }

    @Test func unregisteringItselfInsideItsHandler() throws {
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        writeAll(a.rawValue, [1]) // stays readable: the handler never reads it
        var calls = 0
        var token: EventLoop.Token?
        token = try loop.register(b.rawValue, events: .readable) { [unowned loop] _ in
            calls += 1
            loop.unregister(token!)
        }
        try loop.addTimer(nanoseconds: 50_000_000, repeating: false) { [unowned loop] in loop.stop() }
        try runLoop(loop)
        #expect(calls == 1)
    }

    @Test func registeringInsideAHandler() throws {
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        let (c, d) = try Socket.pair()
        var order: [String] = []
        var first: EventLoop.Token?
        first = try loop.register(b.rawValue, events: .readable) { [unowned loop] _ in
            order.append("first")
            loop.unregister(first!)
            _ = try? loop.register(d.rawValue, events: .readable) { _ in
                order.append("second")
                loop.stop()
            }
            writeAll(c.rawValue, [2])
        }
        writeAll(a.rawValue, [1])
        try runLoop(loop)
        #expect(order == ["first", "second"])
    }

    @Test func deferredWorkRunsAfterTheIterationsHandlers() throws {
        let loop = try EventLoop()
        let (a1, b1) = try Socket.pair()
        let (a2, b2) = try Socket.pair()
        var log: [String] = []
        var t1: EventLoop.Token?, t2: EventLoop.Token?
        t1 = try loop.register(b1.rawValue, events: .readable) { [unowned loop] _ in
            log.append("handler")
            loop.unregister(t1!)
            loop.defer_ {
                log.append("deferred")
                loop.defer_ { log.append("deferred-nested"); loop.stop() }
            }
        }
        t2 = try loop.register(b2.rawValue, events: .readable) { [unowned loop] _ in
            log.append("handler")
            loop.unregister(t2!)
        }
        // Work deferred before run() happens before the first wait.
        loop.defer_ { log.append("before") }
        writeAll(a1.rawValue, [1])
        writeAll(a2.rawValue, [1])
        // Both sockets are ready before the loop starts, so both handlers run
        // in the first iteration, before any deferred work.
        #expect(waitFor(b1.rawValue) && waitFor(b2.rawValue))
        try runLoop(loop)
        #expect(log == ["before", "handler", "handler", "deferred", "deferred-nested"])
    }

    /// Work that yields its turn runs after the handlers of the next
    /// iteration: a descriptor that became ready meanwhile is served first,
    /// and work that yields again and again takes one share per iteration
    /// instead of starving everyone (work deferred with `defer_` would).
    @Test func workThatYieldsItsTurnRunsAfterTheNextIterationsHandlers() throws {
        let loop = try EventLoop()
        let (a, b) = try Socket.pair()
        var log: [String] = []
        var shares = 0
        func share() {
            shares += 1
            log.append("share \(shares)")
            if shares < 3 { loop.nextTurn(share) }
        }
        let t = try loop.register(b.rawValue, events: .readable) { _ in
            var byte: UInt8 = 0
            _ = read(b.rawValue, &byte, 1)
            log.append("handler \(byte)")
        }
        loop.nextTurn(share)
        writeAll(a.rawValue, [1])
        #expect(waitFor(b.rawValue))
        #expect(loop.runOnce(timeout: 0) == 2)
        #expect(log == ["handler 1", "share 1"])
        writeAll(a.rawValue, [2])
        #expect(waitFor(b.rawValue))
        // Nothing but yielded work is waiting: the loop does not sleep.
        let start = monotonicNow()
        loop.runOnce(timeout: 5)
        loop.runOnce(timeout: 5)
        #expect(monotonicNow() - start < 1_000_000_000)
        #expect(log == ["handler 1", "share 1", "handler 2", "share 2", "share 3"])
        loop.unregister(t)
    }

    @Test func stopInDeferredWorkEndsRunWithoutWaiting() throws {
        let loop = try EventLoop()
        var ran = false
        loop.defer_ { [unowned loop] in ran = true; loop.stop() }
        let start = monotonicNow()
        try runLoop(loop, timeout: 5)
        #expect(ran)
        #expect(monotonicNow() - start < 1_000_000_000)
    }

    @Test func deferredWorkQueuedAtStopStillRuns() throws {
        let loop = try EventLoop()
        var ran = false
        try loop.addTimer(nanoseconds: 1_000_000, repeating: false) { [unowned loop] in
            loop.stop()
            loop.defer_ { ran = true }
        }
        try runLoop(loop)
        #expect(ran)
    }

    @Test func registeringABadDescriptorThrows() throws {
        let loop = try EventLoop()
        do {
            _ = try loop.register(-1, events: .readable) { _ in }
            Issue.record("registering fd -1 should fail")
        } catch {
            #expect(error.code == EBADF)
        }
        // Regular files (a memfd) cannot be watched by epoll.
        let file = try Memfd.create(name: "epoll", size: 0)
        do {
            _ = try loop.register(file.rawValue, events: .readable) { _ in }
            Issue.record("registering a memfd should fail")
        } catch {
            #expect(error.code == EPERM)
        }
    }

    @Test func workAfterADelayRunsOnceInDeadlineOrder() throws {
        let loop = try EventLoop()
        var order: [Int] = []
        loop.after(0.05) { order.append(2) }
        loop.after(0.01) { order.append(1) }
        loop.after(0.08) { [unowned loop] in order.append(3); loop.stop() }
        let start = monotonicNow()
        loop.run()
        let seconds = Double(monotonicNow() - start) / 1e9
        #expect(order == [1, 2, 3])
        #expect(seconds >= 0.08 && seconds < 2, "\(seconds) s")
    }
}

