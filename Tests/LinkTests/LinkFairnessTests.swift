import Glibc
import Link
import PortholeSystem
import SystemTestSupport
import Testing

/// Fair turns between links on one loop (issue 14, part 2): a guest that
/// sends frames as fast as its socket takes them gets a bounded share of
/// each loop iteration, and another guest's frame is handled in the same
/// iteration it arrives, not after the backlog.
@Suite struct LinkFairnessTests {
    /// A host endpoint on `loop` and the raw guest that drives it, opened.
    private func openLink(_ name: String, on loop: EventLoop) throws -> (LinkEndpoint, Recorder, RawPeer) {
        let (a, b) = try Socket.pair()
        let recorder = Recorder()
        let endpoint = try LinkEndpoint(socket: a, role: .host, name: name, loop: loop, delegate: recorder)
        let peer = try RawPeer(socket: b, loop: loop)
        peer.sendHello(role: .guest)
        #expect(try runLoop(loop) { recorder.opened == 1 && !peer.frames.isEmpty })
        return (endpoint, recorder, peer)
    }

    @Test func aBacklogOfCheapFramesTakesOneShareATurnAndAnotherLinksFrameIsHandledInTheFirst() throws {
        let loop = try EventLoop()
        let (busy, busyFrames, busyPeer) = try openLink("busy", on: loop)
        let (honest, honestFrames, honestPeer) = try openLink("honest", on: loop)
        let backlog = 10_000
        busyPeer.send(Array((0..<backlog).map { FrameCodec.encode(.creditRequest(channel: UInt32($0))) }.joined()))
        honestPeer.send(.creditRequest(channel: 7))
        loop.runOnce(timeout: 1)
        #expect(honestFrames.frames == [.creditRequest(channel: 7)])
        #expect(busyFrames.frames.count <= LinkEndpoint.framesPerTurn,
                "the busy link had \(busyFrames.frames.count) frames handled in the turn the honest one was served")
        // The rest follows, a share per turn, in order and complete.
        var turns = 1
        while busyFrames.frames.count < backlog && turns < backlog {
            loop.runOnce(timeout: 1)
            turns += 1
        }
        #expect(busyFrames.frames == (0..<backlog).map { .creditRequest(channel: UInt32($0)) })
        #expect(turns >= backlog / LinkEndpoint.framesPerTurn, "\(backlog) frames in \(turns) turns")
        #expect(busy.receivedFrames == UInt64(backlog + 1) &&  // and the hello
                !busy.isClosed && !honest.isClosed)
    }

    /// A link waiting for its next turn still notices its peer going away.
    @Test func aPeerThatHangsUpBehindItsBacklogEndsTheLinkOnceTheBacklogIsHandled() throws {
        let loop = try EventLoop()
        let (busy, busyFrames, busyPeer) = try openLink("busy", on: loop)
        let backlog = 4 * LinkEndpoint.framesPerTurn + 5
        busyPeer.send(Array((0..<backlog).map { FrameCodec.encode(.creditRequest(channel: UInt32($0))) }.joined()))
        busyPeer.close()
        #expect(try runLoop(loop) { busy.isClosed })
        #expect(busyFrames.frames.count == backlog)
        #expect(busyFrames.closes == ["peer closed the connection"])
    }
}
