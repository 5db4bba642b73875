// Link frames as a link reads them: the header's length first, an update's
// head and range table before its data, then the whole frame (handshake
// frames included). A frame that decodes must encode back to the same
// frame, and an update's head must agree with the whole frame.
import FuzzSupport
import Link

let limits = LinkLimits()

runFuzzer { data in
    var offset = 0
    while offset < data.count {
        let rest = UnsafeRawBufferPointer(rebasing: data[offset...])
        let head = try? FrameCodec.decodeUpdateHead(rest, limits: limits)
        guard let length = try? FrameCodec.frameLength(rest, limits: limits) else { return }
        FuzzCheck(length >= 12 && length <= 12 + limits.maxPayload, "frame length \(length)")
        guard length <= rest.count else { return }
        let bytes = UnsafeRawBufferPointer(rebasing: rest[0..<length])
        if let frame = try? FrameCodec.decode(bytes, limits: limits) {
            _ = frame.traceLine
            let again = FrameCodec.encode(frame).withUnsafeBytes { try? FrameCodec.decode($0, limits: limits) }
            FuzzCheck(again == frame, "\(frame.traceLine) encodes to another frame")
            if let h = head, case .resourceUpdate(let c, let r, let ranges, let payload) = frame {
                FuzzCheck(h.channel == c && h.resource == r && h.ranges == ranges, "update head \(h.channel)/\(h.resource) against \(frame.traceLine)")
                FuzzCheck(length - h.headBytes == payload.count, "update data of \(payload.count) bytes after a \(h.headBytes)-byte head")
            }
        }
        offset += length
    }
}
