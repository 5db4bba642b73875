import Foundation
import Glibc
import Link
import PortholeSystem
import Testing

/// A raw guest that speaks the link protocol to a real host proxy, to break
/// its rules on purpose.
final class RawLinkGuest {
    let socket: OwnedFD
    private var input: [UInt8] = []
    /// The host's regionInfo, once read.
    private(set) var hostRegion: (size: UInt64, tag: [UInt8])?
    private(set) var frames: [LinkFrame] = []

    init(path: String, offerRegion: Bool = true) throws {
        socket = try Socket.connect(.unix(path: path))
        send(.hello(version: 1, role: .guest, features: offerRegion ? LinkFeatures.sharedRegion : 0))
    }

    func send(_ frame: LinkFrame) {
        let bytes = FrameCodec.encode(frame)
        _ = try? bytes.withUnsafeBytes { try Socket.send(socket, $0, fds: []) }
    }

    /// Reads frames until `done` holds or the link closes; returns false on close or timeout.
    @discardableResult
    func read(timeout: Double = 5, until done: (LinkFrame) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var pfd = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) >= 0 else { return false }
            if pfd.revents == 0 { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            var fds: [OwnedFD] = []
            guard let r = try? buffer.withUnsafeMutableBytes({ try Socket.receive(socket, into: $0, fds: &fds) }),
                  case .bytes(let n) = r else { return false }
            input += buffer[0..<n]
            while let length = try? input.withUnsafeBytes({ try FrameCodec.frameLength($0, limits: LinkLimits()) }), input.count >= length {
                guard let frame = try? input.withUnsafeBytes({ try FrameCodec.decode(UnsafeRawBufferPointer(rebasing: $0[0..<length]), limits: LinkLimits()) }) else { return false }
                input.removeFirst(length)
                frames.append(frame)
                if case .regionInfo(let size, let tag) = frame { hostRegion = (size, tag) }
                if done(frame) { return true }
            }
        }
        return false
    }

    /// Completes the handshake: reads the host's region info and echoes it.
    func agreeOnRegion() throws {
        try #require(read { if case .regionInfo = $0 { return true } else { return false } }, "no regionInfo from the host")
        let info = try #require(hostRegion)
        send(.regionInfo(size: info.size, tag: info.tag))
    }

    /// Whether the host closed the link within `timeout`.
    func waitForClose(timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !read(timeout: 0.2, until: { _ in false }) && isAtEOF() { return true }
        }
        return false
    }

    private func isAtEOF() -> Bool {
        var b = [UInt8](repeating: 0, count: 1)
        let n = recv(socket.rawValue, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN)
    }
}

/// The (object, opcode) of each Wayland message in `bytes`.
func waylandMessages(_ bytes: [UInt8]) -> [(object: UInt32, opcode: UInt16)] {
    var out: [(UInt32, UInt16)] = []
    var o = 0
    while o + 8 <= bytes.count {
        let object = bytes[o..<o + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let opcode = UInt16(bytes[o + 4]) | UInt16(bytes[o + 5]) << 8
        let size = Int(UInt16(bytes[o + 6]) | UInt16(bytes[o + 7]) << 8)
        out.append((object, opcode))
        o += max(size, 8)
    }
    return out
}
