/// Per-channel flow control with virtio-vsock's rules. Counters are
/// free-running u32 values compared with wrapping arithmetic.
///
/// Receive side: we offer `bufAlloc` bytes; `received` counts bytes that
/// arrived, `forwarded` (fwd_cnt) those delivered onward. The peer may never
/// have more than `bufAlloc` bytes in flight: `received - forwarded <= bufAlloc`.
///
/// Send side: `peerFree = peerBufAlloc - (sent - peerFwdCnt)`.
public struct CreditWindow: Sendable, Equatable {
    public private(set) var bufAlloc: UInt32
    public private(set) var received: UInt32 = 0
    public private(set) var forwarded: UInt32 = 0
    /// `forwarded` as of the last credit we advertised.
    public private(set) var advertisedForwarded: UInt32 = 0

    public private(set) var peerBufAlloc: UInt32 = 0
    public private(set) var peerFwdCnt: UInt32 = 0
    public private(set) var sent: UInt32 = 0

    public init(bufAlloc: UInt32) { self.bufAlloc = bufAlloc }

    /// Free space at the peer, in bytes.
    public var peerFree: Int {
        let inFlight = sent &- peerFwdCnt
        return inFlight > peerBufAlloc ? 0 : Int(peerBufAlloc &- inFlight)
    }

    /// Bytes received and not yet forwarded.
    public var buffered: Int { Int(received &- forwarded) }

    /// The credit to put in an outgoing frame; records it as advertised.
    public mutating func advertise() -> LinkFrame.Credit {
        advertisedForwarded = forwarded
        return LinkFrame.Credit(bufAlloc: bufAlloc, fwdCnt: forwarded)
    }

    /// Takes the peer's advertised state (every data or credit frame carries it).
    /// A peer claiming to have forwarded more than we sent is ignored beyond `sent`.
    public mutating func peerAdvertised(_ c: LinkFrame.Credit) {
        peerBufAlloc = c.bufAlloc
        // fwd_cnt can only move forward and never past what we sent.
        let advance = c.fwdCnt &- peerFwdCnt
        if advance <= sent &- peerFwdCnt { peerFwdCnt = c.fwdCnt }
    }

    /// Records `n` payload bytes sent. The caller checked `peerFree >= n`.
    public mutating func didSend(_ n: Int) {
        precondition(n <= peerFree, "sending past the peer's credit")
        sent = sent &+ UInt32(n)
    }

    /// Records `n` payload bytes received; throws if the peer overran our buffer.
    public mutating func didReceive(_ n: Int, channel: UInt32) throws(LinkProtocolError) {
        let free = Int(bufAlloc) - buffered
        guard n <= free else { throw .creditOverrun(channel: channel, bytes: n, free: free) }
        received = received &+ UInt32(n)
    }

    /// Records `n` bytes delivered onward. Returns true when the peer should be
    /// told (a credit update): when the credit it knows of has fallen below a
    /// quarter of the buffer. Senders never send a unit larger than a quarter
    /// of the buffer, so a blocked sender always gets an update.
    public mutating func didForward(_ n: Int) -> Bool {
        precondition(n <= buffered, "forwarding more than was received")
        forwarded = forwarded &+ UInt32(n)
        let peerKnownFree = Int(bufAlloc) - Int(received &- advertisedForwarded)
        return peerKnownFree < Int(bufAlloc / 4) && forwarded != advertisedForwarded
    }
}
