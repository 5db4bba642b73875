import Foundation
import Glibc
import SystemTestSupport
import Testing

/// The clipboard through the proxies, with a real sway as the host
/// compositor and wl-clipboard as the clients. wl-clipboard 2.1 uses the
/// wlroots data-control protocol when the compositor offers it, which sway
/// does and the guest proxy passes on; each test checks which path it took.
@Suite("Clipboard through the proxies with sway", .serialized, .tags(.processes))
struct SwayClipboardTests {
    /// Pastes on `side` until the selection is there (wl-copy forks and sets
    /// the selection from the background, so the first paste may be early).
    private func paste(_ chain: ProxiedSway, on side: ProxiedSway.Side, arguments: String = "-n", timeout: Double = 15) throws -> String {
        try waitFor("wl-paste on the \(side) to return the selection", timeout: timeout, poll: 0.1) { () -> String? in
            let r = try chain.shell(side, "wl-paste \(arguments)", check: false)
            return r.exit.succeeded ? r.stdoutText : nil
        }
    }

    @Test("echo text | wl-copy in the guest, wl-paste on sway returns it")
    func copyInGuestPasteOnHost() throws {
        let chain = try ProxiedSway(allow: ["data-control"])
        defer { chain.stop() }
        let text = "copied in the guest \(UInt32.random(in: 0...UInt32.max))"
        let debugLog = chain.runtime.file("wl-copy-guest.debug")
        try chain.shell(.guest, "echo '\(text)' | WAYLAND_DEBUG=1 wl-copy 2>\(debugLog)")
        let pasted = try paste(chain, on: .host)
        #expect(pasted == text + "\n", "\(chain.diagnostics())")

        // Which protocol wl-copy used through the guest: the debug log of its
        // background process shows the compositor asking it to send.
        let log = (try? String(contentsOfFile: debugLog, encoding: .utf8)) ?? ""
        let path = log.contains("zwlr_data_control_source_v1@") ? "zwlr_data_control_v1"
            : log.contains("wl_data_source@") ? "wl_data_device" : "unknown"
        print("clipboard guest→host: wl-copy in the guest used \(path)")
        #expect(path == "zwlr_data_control_v1")
        #expect(log.contains(".send(\"text/plain"), "wl-copy was never asked to send through the proxies:\n\(log.suffix(2000))")

        let guestStats = try chain.guest.waitForStats("pipe bytes counted", timeout: 5) { $0["pipe_bytes_sent", default: 0] >= text.utf8.count }
        #expect(guestStats["client_errors"] == 0)
        #expect(try chain.host.stats()["client_errors"] == 0, "\(chain.diagnostics())")
    }

    @Test("echo text | wl-copy on sway, wl-paste in the guest returns it")
    func copyOnHostPasteInGuest() throws {
        let chain = try ProxiedSway(allow: ["data-control"])
        defer { chain.stop() }
        let text = "copied on the host \(UInt32.random(in: 0...UInt32.max))"
        try chain.shell(.host, "echo '\(text)' | wl-copy")
        let pasted = try paste(chain, on: .guest)
        #expect(pasted == text + "\n", "\(chain.diagnostics())")

        // Which protocol wl-paste used through the guest (its debug trace).
        let traced = try chain.shell(.guest, "WAYLAND_DEBUG=1 wl-paste -n 2>&1 >/dev/null")
        let path = traced.stdoutText.contains("zwlr_data_control_offer_v1@") ? "zwlr_data_control_v1"
            : traced.stdoutText.contains("wl_data_offer@") ? "wl_data_device" : "unknown"
        print("clipboard host→guest: wl-paste in the guest used \(path)")
        #expect(path == "zwlr_data_control_v1")
        #expect(traced.stdoutText.contains(".receive(\"text/plain"), "\(traced.stdoutText.suffix(2000))")

        let hostStats = try chain.host.waitForStats("pipe bytes counted", timeout: 5) { $0["pipe_bytes_sent", default: 0] >= text.utf8.count }
        #expect(hostStats["client_errors"] == 0)
        #expect(try chain.guest.stats()["client_errors"] == 0, "\(chain.diagnostics())")
    }

    /// Writes `count` random bytes to a new file and returns its path.
    private func randomFile(_ chain: ProxiedSway, bytes count: Int) throws -> String {
        let path = chain.runtime.file("random-\(count).bin")
        guard let source = FileHandle(forReadingAtPath: "/dev/urandom") else { throw SupportError("cannot open /dev/urandom") }
        defer { try? source.close() }
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let out = try #require(FileHandle(forWritingAtPath: path))
        defer { try? out.close() }
        var left = count
        while left > 0 {
            let chunk = source.readData(ofLength: min(left, 1 << 20))
            guard !chunk.isEmpty else { throw SupportError("short read from /dev/urandom") }
            try out.write(contentsOf: chunk)
            left -= chunk.count
        }
        return path
    }

    enum Direction: String, Sendable, CaseIterable { case guestToHost = "guest→host", hostToGuest = "host→guest" }

    @Test("a 50 MiB paste crosses intact while both proxies' peak memory stays bounded",
          arguments: Direction.allCases)
    func largePaste(direction: Direction) throws {
        let chain = try ProxiedSway(allow: ["data-control"])
        defer { chain.stop() }
        let size = 50 << 20
        let input = try randomFile(chain, bytes: size)
        let expected = try sha256(ofFile: input, logDirectory: chain.runtime.path)
        let (copySide, pasteSide): (ProxiedSway.Side, ProxiedSway.Side) = direction == .guestToHost ? (.guest, .host) : (.host, .guest)

        // Settle first, so start-up allocations are not counted against the paste.
        _ = try restingFDCount(chain.host)
        _ = try restingFDCount(chain.guest)
        let before = (host: try peakRSSKiB(pid: chain.host.pid), guest: try peakRSSKiB(pid: chain.guest.pid))

        let mime = "application/x-porthole-test"
        try chain.shell(copySide, "wl-copy -t \(mime) < \(input)")
        let output = chain.runtime.file("pasted-\(direction == .guestToHost ? "host" : "guest").bin")
        let start = monotonicSeconds()
        _ = try paste(chain, on: pasteSide, arguments: "-n -t \(mime) > \(output)", timeout: 120)
        let seconds = monotonicSeconds() - start
        let pastedSize = (try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? -1
        #expect(pastedSize == size, "pasted \(pastedSize) of \(size) bytes\n\(chain.diagnostics())")
        #expect(try sha256(ofFile: output, logDirectory: chain.runtime.path) == expected)

        let after = (host: try peakRSSKiB(pid: chain.host.pid), guest: try peakRSSKiB(pid: chain.guest.pid))
        print("""
            50 MiB paste \(direction.rawValue) in \(String(format: "%.2f", seconds)) s; peak RSS (VmHWM) \
            host \(before.host) -> \(after.host) KiB (+\(after.host - before.host)), \
            guest \(before.guest) -> \(after.guest) KiB (+\(after.guest - before.guest))
            """)
        let bound = 64 << 10  // KiB
        #expect(after.host - before.host < bound, "host proxy peak RSS grew by \(after.host - before.host) KiB")
        #expect(after.guest - before.guest < bound, "guest proxy peak RSS grew by \(after.guest - before.guest) KiB")

        let sender = direction == .guestToHost ? chain.guest : chain.host
        let stats = try sender.waitForStats("all pipe bytes counted", timeout: 5) { $0["pipe_bytes_sent", default: 0] >= size }
        #expect(stats["client_errors"] == 0)
        #expect(try (direction == .guestToHost ? chain.host : chain.guest).stats()["client_errors"] == 0, "\(chain.diagnostics())")
    }
}
