import PortholeSystem
import Testing

@Suite struct VsockMuxReplyTests {
    func feed(_ reply: inout VsockMuxReply, _ text: String) -> (take: Int, outcome: VsockMuxReply.Outcome) {
        Array(text.utf8).withUnsafeBytes { reply.feed($0) }
    }

    @Test func takesTheLineAndLeavesTheLinksBytes() {
        var reply = VsockMuxReply()
        let (take, outcome) = feed(&reply, "OK 52\r\nPHLK")
        #expect(take == 7 && outcome == .accepted)
    }

    @Test func aLineInPieces() {
        var reply = VsockMuxReply()
        #expect(feed(&reply, "O") == (1, .needMore))
        #expect(feed(&reply, "K") == (1, .needMore))
        #expect(feed(&reply, "\nrest") == (1, .accepted))
    }

    @Test func anythingElseIsRefusedWithItsTextEscaped() {
        var reply = VsockMuxReply()
        #expect(feed(&reply, "ERR\u{1b}[2J\n").outcome == .refused("\"ERR\\x1b[2J\""))
        var lower = VsockMuxReply()
        #expect(feed(&lower, "ok 5\n").outcome == .refused("\"ok 5\""))
    }

    @Test func noNewlineWithinTheLimit() {
        var reply = VsockMuxReply()
        let long = String(repeating: "O", count: 300)
        let (take, outcome) = feed(&reply, long)
        #expect(take == VsockMuxReply.maxLine && outcome == .tooLong)
    }
}
