// A hybrid-vsock VMM's answer, arriving in pieces of any size: the parser
// takes bytes up to the first newline and never one past it, and gives up
// at 256 bytes.
import FuzzSupport
import PortholeSystem

runFuzzer { data in
    guard let first = data.first else { return }
    let stream = Array(data.dropFirst())
    var reply = VsockMuxReply()
    var taken = 0
    var piece = Int(first % 32) + 1
    while taken < stream.count {
        let available = Array(stream[taken..<min(stream.count, taken + piece)])
        let (take, outcome) = available.withUnsafeBytes { reply.feed($0) }
        FuzzCheck(take <= available.count, "took \(take) of \(available.count)")
        taken += take
        let newline = stream.firstIndex(of: UInt8(ascii: "\n"))
        switch outcome {
        case .needMore:
            FuzzCheck(take == available.count && (newline == nil || newline! >= taken), "stopped short of the line's end")
            FuzzCheck(taken < VsockMuxReply.maxLine, "read \(taken) bytes without giving up")
        case .accepted, .refused:
            FuzzCheck(newline == taken - 1, "the answer ended at \(taken), its newline is at \(String(describing: newline))")
            if case .refused(let text) = outcome { FuzzCheck(!text.utf8.contains { $0 < 0x20 }, "unescaped text in \(text)") }
            return
        case .tooLong:
            FuzzCheck(taken == VsockMuxReply.maxLine && (newline == nil || newline! >= taken), "gave up at \(taken)")
            return
        }
        piece = piece % 7 + 1
    }
}
