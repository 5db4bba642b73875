import PortholeSystem

/// One commit's copy from a client's pool into its region chunk, packed so
/// that any thread can run it: addresses, spans and whether to compare, with
/// the two mappings held alive until it is done (a client that disconnects
/// meanwhile unmaps nothing under it). The loop runs small ones itself; a
/// large one goes to the `BackgroundWorker` (`SyncOffload`).
struct RegionCopyWork: @unchecked Sendable {
    /// Bytes [lower, upper) of the pool, read `shift` bytes further on in the
    /// client's memory (a y-inverted buffer's rows run backwards).
    struct Span {
        var range: Range<Int>
        var shift: Int
    }

    /// What a run did.
    struct Outcome: Sendable {
        var compared = 0
        var copied = 0
        /// The client's file shrank under the read (see `MemoryFaultGuard`).
        var faulted = false
        /// The fault guard could not be set up (this thread already guards).
        var guardError: String?
    }

    let client: UnsafeMutableRawPointer
    let clientLength: Int
    let copy: UnsafeMutableRawPointer
    let spans: [Span]
    /// Copy without comparing.
    let blind: Bool
    /// The client's mapping and the region, kept mapped while this exists.
    let keepAlive: [AnyObject]

    var bytes: Int { spans.reduce(0) { $0 + $1.range.count } }

    /// Copies the spans (blind: all of them; else only bytes that differ).
    /// A blind copy of a large span streams past the cache: the compositor
    /// reads the frame from memory either way, and the client's next frame
    /// stays cached.
    func run() -> Outcome {
        var outcome = Outcome()
        do {
            let guarded = try MemoryFaultGuard.reading(client, length: clientLength) { () -> (Int, Int) in
                var compared = 0, copied = 0
                for s in spans {
                    let source = client + s.shift
                    if blind {
                        StreamingCopy.copy(to: copy + s.range.lowerBound, from: source + s.range.lowerBound, count: s.range.count)
                        copied += s.range.count
                    } else {
                        compared += s.range.count
                        copied += ByteDiff.diff(client: source, copy: copy, start: s.range.lowerBound, end: s.range.upperBound)
                    }
                }
                return (compared, copied)
            }
            (outcome.compared, outcome.copied) = guarded.value
            outcome.faulted = guarded.faulted
        } catch {
            outcome.guardError = "\(error)"
        }
        return outcome
    }
}
