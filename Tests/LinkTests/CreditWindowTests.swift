import Link
import SystemTestSupport
import Testing

private typealias Credit = LinkFrame.Credit

@Suite struct CreditWindowTests {
    @Test func freshWindow() {
        var w = CreditWindow(bufAlloc: 262_144)
        #expect(w.bufAlloc == 262_144)
        #expect(w.peerFree == 0, "no credit until the peer announced its buffer")
        #expect(w.buffered == 0)
        #expect(w.advertise() == Credit(bufAlloc: 262_144, fwdCnt: 0))
    }

    @Test func sendSideArithmetic() {
        var w = CreditWindow(bufAlloc: 10)
        w.peerAdvertised(Credit(bufAlloc: 1000, fwdCnt: 0))
        #expect(w.peerFree == 1000)
        w.didSend(300)
        #expect(w.peerFree == 700)
        #expect(w.sent == 300)
        w.didSend(700)
        #expect(w.peerFree == 0)
        w.peerAdvertised(Credit(bufAlloc: 1000, fwdCnt: 500))
        #expect(w.peerFree == 500)
        #expect(w.peerFwdCnt == 500)
        // The peer shrinks its buffer below what is in flight.
        w.peerAdvertised(Credit(bufAlloc: 100, fwdCnt: 500))
        #expect(w.peerFree == 0)
        #expect(w.peerBufAlloc == 100)
        w.peerAdvertised(Credit(bufAlloc: 100, fwdCnt: 950))
        #expect(w.peerFree == 50)
        w.peerAdvertised(Credit(bufAlloc: 2000, fwdCnt: 1000))
        #expect(w.peerFree == 2000)
        w.didSend(0)
        #expect(w.peerFree == 2000)
    }

    @Test func peerFwdCntBeyondWhatWasSentIsIgnored() {
        var w = CreditWindow(bufAlloc: 10)
        w.peerAdvertised(Credit(bufAlloc: 1000, fwdCnt: 0))
        w.didSend(400)
        w.peerAdvertised(Credit(bufAlloc: 1000, fwdCnt: 100))
        #expect(w.peerFree == 700)
        // Past tx_cnt: ignored (not clamped), but buf_alloc is still taken.
        w.peerAdvertised(Credit(bufAlloc: 1200, fwdCnt: 401))
        #expect(w.peerFwdCnt == 100)
        #expect(w.peerBufAlloc == 1200)
        #expect(w.peerFree == 900)
        w.peerAdvertised(Credit(bufAlloc: 1200, fwdCnt: 0x8000_0000))
        #expect(w.peerFwdCnt == 100)
        w.peerAdvertised(Credit(bufAlloc: 1200, fwdCnt: .max))
        #expect(w.peerFwdCnt == 100)
        // Backwards (stale): also ignored.
        w.peerAdvertised(Credit(bufAlloc: 1200, fwdCnt: 50))
        #expect(w.peerFwdCnt == 100)
        #expect(w.peerFree == 900)
        // Exactly tx_cnt is fine.
        w.peerAdvertised(Credit(bufAlloc: 1200, fwdCnt: 400))
        #expect(w.peerFwdCnt == 400)
        #expect(w.peerFree == 1200)
    }

    @Test func receiveOverrunThrows() throws {
        var w = CreditWindow(bufAlloc: 1000)
        try w.didReceive(600, channel: 7)
        #expect(w.buffered == 600)
        do {
            try w.didReceive(401, channel: 7)
            Issue.record("401 bytes with 400 free must overrun")
        } catch {
            #expect(error == .creditOverrun(channel: 7, bytes: 401, free: 400))
        }
        #expect(w.received == 600, "a rejected receive changes nothing")
        try w.didReceive(400, channel: 7)
        #expect(w.buffered == 1000)
        #expect(throws: LinkProtocolError.creditOverrun(channel: 7, bytes: 1, free: 0)) { try w.didReceive(1, channel: 7) }
        try w.didReceive(0, channel: 7)
        // The check uses the real fwd_cnt, not the last one announced.
        _ = w.didForward(1000)
        #expect(w.buffered == 0)
        #expect(w.advertisedForwarded == 0)
        try w.didReceive(1000, channel: 7)
        #expect(w.buffered == 1000)
    }

    @Test func forwardSignalsAnUpdateBelowAQuarter() throws {
        var w = CreditWindow(bufAlloc: 1024) // quarter = 256
        _ = w.advertise()
        try w.didReceive(700, channel: 1)
        #expect(w.didForward(100) == false, "peer still sees 324 free")
        try w.didReceive(100, channel: 1)
        #expect(w.didForward(100) == true, "peer sees 224 free, and there is news")
        #expect(w.advertise() == Credit(bufAlloc: 1024, fwdCnt: 200))
        #expect(w.advertisedForwarded == 200)
        // Peer view: 1024 - (800 - 200) = 424.
        #expect(w.didForward(0) == false)
        try w.didReceive(424, channel: 1) // peer view now 0
        #expect(w.didForward(0) == false, "below a quarter but nothing new to report")
        #expect(w.didForward(1) == true)
        // Exactly a quarter free is not below it.
        var q = CreditWindow(bufAlloc: 1024)
        try q.didReceive(768, channel: 1)
        #expect(q.didForward(1) == false)
        try q.didReceive(1, channel: 1)
        #expect(q.didForward(1) == true)
    }

    @Test func specWrapExample() {
        // tx_cnt = 0x10 and peer_fwd_cnt = 0xFFFFFFF0: 32 bytes in flight.
        var w = CreditWindow(bufAlloc: 1)
        w.peerAdvertised(Credit(bufAlloc: 1 << 20, fwdCnt: 0))
        let step = 1 << 20
        var total: UInt64 = 0
        while total + UInt64(step) <= 0xFFFF_FFF0 {
            w.didSend(step)
            total += UInt64(step)
            w.peerAdvertised(Credit(bufAlloc: 1 << 20, fwdCnt: w.sent))
        }
        w.didSend(Int(0xFFFF_FFF0 - total))
        w.peerAdvertised(Credit(bufAlloc: 1 << 20, fwdCnt: 0xFFFF_FFF0))
        #expect(w.sent == 0xFFFF_FFF0)
        #expect(w.peerFree == 1 << 20)
        w.didSend(32)
        #expect(w.sent == 0x10)
        #expect(w.peerFree == (1 << 20) - 32)
        // Forward across the wrap.
        w.peerAdvertised(Credit(bufAlloc: 1 << 20, fwdCnt: 0xFFFF_FFFF))
        #expect(w.peerFree == (1 << 20) - 17)
        w.peerAdvertised(Credit(bufAlloc: 1 << 20, fwdCnt: 0x8))
        #expect(w.peerFree == (1 << 20) - 8)
        // Past tx_cnt across the wrap is still ignored.
        w.peerAdvertised(Credit(bufAlloc: 1 << 20, fwdCnt: 0x11))
        #expect(w.peerFwdCnt == 0x8)
        w.peerAdvertised(Credit(bufAlloc: 1 << 20, fwdCnt: 0xFFFF_FFF8)) // behind: stale
        #expect(w.peerFwdCnt == 0x8)
        w.peerAdvertised(Credit(bufAlloc: 1 << 20, fwdCnt: 0x10))
        #expect(w.peerFree == 1 << 20)
    }

    /// Drives both sides of a channel through ~4 GiB in 64 KiB steps so that
    /// every counter ends just below 2^32, then crosses the wrap.
    @Test func countersWrapAround() throws {
        let bufAlloc: UInt32 = 256 * 1024
        var tx = CreditWindow(bufAlloc: bufAlloc)
        var rx = CreditWindow(bufAlloc: bufAlloc)
        tx.peerAdvertised(Credit(bufAlloc: bufAlloc, fwdCnt: 0))
        let step = 64 * 1024
        // An unbounded model of the same counters.
        var mSent: UInt64 = 0, mPeerFwd: UInt64 = 0, mRecv: UInt64 = 0, mFwd: UInt64 = 0, mAdv: UInt64 = 0
        var failures: [String] = []
        func check(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok && failures.count < 10 { failures.append(what()) } }
        for i in 0..<65535 {
            tx.didSend(step); mSent += UInt64(step)
            try rx.didReceive(step, channel: 1); mRecv += UInt64(step)
            check(tx.peerFree == Int(bufAlloc) - Int(mSent - mPeerFwd), "step \(i): peerFree \(tx.peerFree)")
            check(rx.buffered == Int(mRecv - mFwd), "step \(i): buffered \(rx.buffered)")
            let update = rx.didForward(step); mFwd += UInt64(step)
            let expected = Int(bufAlloc) - Int(mRecv - mAdv) < Int(bufAlloc / 4) && mFwd != mAdv
            check(update == expected, "step \(i): didForward said \(update)")
            if update || i % 3 == 0 {
                tx.peerAdvertised(rx.advertise())
                mAdv = mFwd; mPeerFwd = mFwd
            }
            check(tx.sent == UInt32(truncatingIfNeeded: mSent) && rx.received == UInt32(truncatingIfNeeded: mRecv)
                  && rx.forwarded == UInt32(truncatingIfNeeded: mFwd) && tx.peerFwdCnt == UInt32(truncatingIfNeeded: mPeerFwd),
                  "step \(i): counters")
        }
        tx.peerAdvertised(rx.advertise())
        #expect(failures.isEmpty, "\(failures)")
        // 65535 * 64 KiB = 2^32 - 64 KiB; 100 bytes short of the wrap after this:
        tx.didSend(step - 100)
        try rx.didReceive(step - 100, channel: 1)
        _ = rx.didForward(step - 100)
        tx.peerAdvertised(rx.advertise())
        #expect(tx.sent == UInt32.max - 99)
        #expect(rx.received == UInt32.max - 99)
        #expect(rx.forwarded == UInt32.max - 99)
        #expect(tx.peerFwdCnt == UInt32.max - 99)
        #expect(tx.peerFree == Int(bufAlloc))
        #expect(rx.buffered == 0)

        // Cross the wrap with data in flight.
        tx.didSend(200)
        try rx.didReceive(200, channel: 1)
        #expect(tx.sent == 100)
        #expect(rx.received == 100)
        #expect(tx.peerFree == Int(bufAlloc) - 200)
        #expect(rx.buffered == 200)
        _ = rx.didForward(50) // forwarded = max - 49: still before the wrap
        #expect(rx.buffered == 150)
        tx.peerAdvertised(rx.advertise())
        #expect(tx.peerFree == Int(bufAlloc) - 150)
        // Fill the receiver exactly across the wrap, then overrun by one.
        let free = Int(bufAlloc) - rx.buffered
        #expect(tx.peerFree == free)
        tx.didSend(free)
        try rx.didReceive(free, channel: 1)
        #expect(tx.peerFree == 0)
        #expect(rx.buffered == Int(bufAlloc))
        #expect(throws: LinkProtocolError.creditOverrun(channel: 1, bytes: 1, free: 0)) { try rx.didReceive(1, channel: 1) }
        // A fwd_cnt beyond what was sent, across the wrap, is ignored.
        tx.peerAdvertised(Credit(bufAlloc: bufAlloc, fwdCnt: tx.sent &+ 1))
        #expect(tx.peerFree == 0)
        #expect(rx.didForward(rx.buffered) == true)
        tx.peerAdvertised(rx.advertise())
        #expect(tx.peerFree == Int(bufAlloc))
        #expect(rx.buffered == 0)
        #expect(tx.sent == rx.forwarded)
    }

    /// A sender that never sends more than a quarter of the buffer at once,
    /// and a receiver that forwards at random and sends a credit update only
    /// when `didForward` says so: the receiver is never overrun and the sender
    /// is never left waiting forever (no creditRequest needed). Runs across the
    /// u32 wrap.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func updateRuleNeverStrandsASender(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let bufAlloc: UInt32 = 256 * 1024
        var tx = CreditWindow(bufAlloc: bufAlloc)
        var rx = CreditWindow(bufAlloc: bufAlloc)
        tx.peerAdvertised(Credit(bufAlloc: bufAlloc, fwdCnt: 0))
        // Get near the wrap first.
        for _ in 0..<65534 {
            tx.didSend(65536)
            try rx.didReceive(65536, channel: 1)
            _ = rx.didForward(65536)
            tx.peerAdvertised(rx.advertise())
        }
        var dataInFlight: [Int] = []
        var creditInFlight: [Credit] = []
        var undelivered = 0
        var sentTotal = 0, deliveredTotal = 0
        let target = 20 << 20
        var nextUnit = Int.random(in: 1...Int(bufAlloc / 4), using: &rng)
        var steps = 0
        while sentTotal < target || deliveredTotal < sentTotal {
            steps += 1
            if steps > 10_000_000 { Issue.record("no progress"); return }
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                if sentTotal < target && tx.peerFree >= nextUnit {
                    tx.didSend(nextUnit)
                    dataInFlight.append(nextUnit)
                    sentTotal += nextUnit
                    nextUnit = Int.random(in: 1...Int(bufAlloc / 4), using: &rng)
                }
            case 1:
                if !dataInFlight.isEmpty {
                    let n = dataInFlight.removeFirst()
                    try rx.didReceive(n, channel: 1) // an overrun fails the test
                    undelivered += n
                }
            case 2:
                if undelivered > 0 {
                    let n = Int.random(in: 1...undelivered, using: &rng)
                    undelivered -= n
                    deliveredTotal += n
                    if rx.didForward(n) { creditInFlight.append(rx.advertise()) }
                }
            default:
                if !creditInFlight.isEmpty { tx.peerAdvertised(creditInFlight.removeFirst()) }
            }
            // Quiescent and stuck: nothing in flight, everything delivered,
            // and the sender still cannot send its next unit.
            if dataInFlight.isEmpty && creditInFlight.isEmpty && undelivered == 0 && sentTotal < target && tx.peerFree < nextUnit {
                Issue.record("sender stranded: peerFree \(tx.peerFree) < unit \(nextUnit), rx buffered \(rx.buffered)")
                return
            }
        }
        #expect(rx.buffered == 0)
        #expect(tx.sent == rx.received)
        #expect(tx.sent < UInt32(target), "the counters wrapped during the run")
    }
}
