import Foundation
import PortholeSystem

/// A sink frame whose inspection finishes later, on another thread: the
/// compositor keeps the buffer and the surface's frame callbacks until
/// `finish()`, and meanwhile reads other clients' commits, so one client's
/// slow check (a 4K frame compared row by row) does not delay the arrival
/// time of another client's commit.
public struct SinkFrameTicket: @unchecked Sendable {
    let completions: FrameCompletions
    let token: Int
    /// Keeps the pool's mapping alive while the frame is looked at.
    let memory: AnyObject

    /// The inspection is over: release the buffer and fire the callbacks
    /// (on the compositor's thread). Call exactly once, from any thread.
    public func finish() { completions.finish(token) }
}

/// Called on the compositor thread for every committed buffer; the frame's
/// pixels stay valid and unchanged until the ticket is finished.
public typealias DeferredFrameInspector = @Sendable (SinkFrame, SinkFrameTicket) -> Void

/// Finished inspections on their way back to the compositor's loop: a
/// locked list and a socket pair whose read end the loop watches.
final class FrameCompletions: @unchecked Sendable {
    private let lock = NSLock()
    private var finished: [Int] = []
    private var signalled = false
    let reader: OwnedFD
    private let writer: OwnedFD

    init() throws(SystemError) { (reader, writer) = try Socket.pair() }

    func finish(_ token: Int) {
        lock.lock()
        finished.append(token)
        let wake = !signalled
        signalled = true
        lock.unlock()
        // One byte wakes the loop; the list holds the rest. A full socket
        // (wouldBlock) already has a wake-up waiting.
        if wake { var b: UInt8 = 1; _ = try? withUnsafeBytes(of: &b) { try writer.writeSome($0) } }
    }

    /// The tokens finished since the last call, in order (on the loop's thread).
    func take() -> [Int] {
        var scratch = [UInt8](repeating: 0, count: 64)
        while case .bytes = (try? scratch.withUnsafeMutableBytes { try reader.readSome(into: $0) }) ?? .wouldBlock {}
        lock.lock(); defer { lock.unlock() }
        signalled = false
        let out = finished
        finished.removeAll()
        return out
    }
}
