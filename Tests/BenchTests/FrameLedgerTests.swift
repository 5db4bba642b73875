@testable import Bench
import Testing

/// The ledger's commit intervals: each client's own, within the measured
/// frames, and none across a frame that was never committed.
@Suite struct FrameLedgerTests {
    @Test("commit intervals are taken per client, inside the range, skipping frames never committed")
    func commitIntervalsPerClient() {
        let ledger = FrameLedger(clients: 2, framesPerClient: 6)
        let ms: UInt64 = 1_000_000
        // Client 0: frames 1-4 at 10, 11, 13, 16 ms (frame 0 is warm-up, outside the range).
        for (k, t) in [(0, 1), (1, 10), (2, 11), (3, 13), (4, 16)] { ledger.commit(client: 0, frame: k, at: UInt64(t) * ms) }
        // Client 1: frames 1, 2 and 4 (3 never committed).
        for (k, t) in [(1, 20), (2, 25), (4, 40)] { ledger.commit(client: 1, frame: k, at: UInt64(t) * ms) }
        let got = ledger.commitIntervals(frames: 1..<6).map { ($0 * 1000).rounded() }
        #expect(got.sorted() == [1, 2, 3, 5])
        #expect(quantile(ledger.commitIntervals(frames: 1..<6), 0.5) == 0.002)
    }
}
