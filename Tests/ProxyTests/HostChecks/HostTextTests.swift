import Glibc
@testable import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// Text a guest sends that reaches the host's log, a title or an error
/// string: escaped (no line breaks, no terminal escapes) and bounded. The
/// adversary forged host log lines with newlines in a closeLink reason and
/// sent ANSI escapes to the host's terminal.
@Suite("Host checks: untrusted text") struct HostTextTests {
    static let forged = "porthole host error: forged"

    /// Whether `lines` hold a forged line, a control character other than
    /// each line's own newline, or a line longer than `limit` bytes.
    static func problems(in lines: [String], limit: Int = 2048) -> [String] {
        lines.filter { line in
            let body = line.dropLast()
            return body.hasPrefix(forged) || body.utf8.contains { $0 < 0x20 || $0 == 0x7F } || line.utf8.count > limit
        }
    }

    @Test func aCloseReasonCannotForgeALogLineOrReachTheTerminal() throws {
        let h = try InProcessHost()
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let (_, lines) = Log.capturing {
            g.send(.closeLink(code: 1, reason: "bye\n\(Self.forged)\u{1b}[2J\u{1b}]0;title\u{07}"))
            _ = h.pump { h.hostSession(of: g) == nil }
        }
        let mine = lines.filter { $0.contains("bye") }
        #expect(!mine.isEmpty, "the reason was not logged at all")
        #expect(Self.problems(in: lines).isEmpty, "\(Self.problems(in: lines))")
        #expect(mine.allSatisfy { $0.contains("\\n") && $0.contains("\\x1b") }, "\(mine)")
    }

    @Test func aBoundInterfaceNameCannotForgeALogLine() throws {
        let s = try HostWaylandChecksTests.Setup()
        let (_, lines) = try Log.capturing {
            s.send([bind(1, "wl_shm\n\(Self.forged)\u{1b}[31m", 1, id: 3)])
            try s.expectRefused(object: 2, code: DisplayErrorCode.invalidObject.rawValue, "bind of global 1 as")
        }
        let mine = lines.filter { $0.contains("bind of global 1 as") }
        #expect(!mine.isEmpty && Self.problems(in: lines).isEmpty, "\(lines)")
        #expect(s.g.displayError(1)?.message.utf8.contains { $0 < 0x20 } == false)
    }

    @Test func longGuestStringsAreCutInLogsAndErrors() throws {
        let s = try HostWaylandChecksTests.Setup()
        let name = String(repeating: "x", count: 3000)
        let (_, lines) = try Log.capturing {
            s.send([bind(1, name, 1, id: 3)])
            try s.expectRefused(object: 2, code: DisplayErrorCode.invalidObject.rawValue, "bind of global 1 as")
        }
        #expect(Self.problems(in: lines, limit: 1024).isEmpty, "\(lines.map { $0.utf8.count })")
        // The guest's client gets an error it can read: one Wayland message of 4 KiB at most.
        let error = try #require(s.g.displayError(1))
        #expect(error.message.utf8.count <= 1024)
        #expect(s.g.channelClose(1).map { $0.reason.utf8.count <= 1024 } == true)
    }

    @Test func unknownInterfacesInErrorsAreEscaped() {
        let error = ObjectMap.TrackError.unknownInterface("a\nb\u{1b}")
        #expect(!error.description.utf8.contains { $0 < 0x20 }, "\(error)")
        let version = ObjectMap.TrackError.badVersion("a\nb", 7)
        #expect(!version.description.utf8.contains { $0 < 0x20 }, "\(version)")
    }

    @Test func titlesLoseBidirectionalOverridesToo() throws {
        // "[guest] \u{202E}fdp.exe" would read "[guest] exe.pdf".
        let h = try InProcessHost()
        defer { h.tearDown() }
        let g = try h.connectGuest()
        let ch = try h.openClient(1, on: g)
        let got = try HostPolicyChecksTests.title(h, g, ch, Array("\u{202E}fdp.exe \u{2067}x\u{2069} مرحبا".utf8))
        #expect(String(decoding: got, as: UTF8.self) == "[guest] fdp.exe x مرحبا")
    }
}

