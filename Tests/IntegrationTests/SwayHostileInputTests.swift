import Foundation
import Glibc
import PortholeSystem
import SystemTestSupport
import Testing
import Wayland

/// Clipboard pipes and keymaps that misbehave, with a real sway behind the
/// proxies: each case must leave a clear log line, crash nothing and leak no
/// descriptor. The misbehaving clients are WaylandProbes speaking
/// data-control or the virtual keyboard protocol directly.
@Suite("Bad clipboard and keymap input through the proxies with sway", .serialized, .tags(.processes))
struct SwayHostileInputTests {
    static let mime = "application/x-porthole-test"

    // MARK: Helpers

    /// A data-control client of `socketPath`: bound to the seat, with a device.
    private final class DataControlProbe {
        let probe: WaylandProbe
        let device: UInt32
        let manager: UInt32
        /// The proxies' and sway's logs, added to a probe's failure: a
        /// roundtrip that never comes back says nothing more by itself.
        private let context: () -> String

        /// A data-control client of `chain`'s guest.
        init(_ chain: ProxiedSway) throws {
            context = { chain.diagnostics() }
            probe = try WaylandProbe(socketPath: chain.guest.socketPath!)
            (manager, device) = try Self.explained(context) { [probe] in
                let seat = try probe.bind("wl_seat", version: 7)
                let manager = try probe.bind("zwlr_data_control_manager_v1", version: 2)
                let device = probe.newID()
                try probe.send(manager, "get_data_device", [.newID(device), .object(seat)])
                try probe.roundtrip()
                return (manager, device)
            }
        }

        /// Waits for a selection offering `mime`; returns the offer's id.
        func waitForSelection(offering mime: String, timeout: Double = 15) throws -> UInt32 {
            try Self.explained(context) {
                var found: UInt32?
                try probe.wait("a selection offering \(mime)", timeout: timeout) { p in
                    guard let sel = p.events.last(where: { $0.objectID == self.device && $0.name == "selection" }),
                          let offer = sel.uint(0), offer != 0 else { return false }
                    let types = p.events.filter { $0.objectID == offer && $0.name == "offer" }.compactMap { $0.string(0) }
                    if types.contains(mime) { found = offer }
                    return found != nil
                }
                return found!
            }
        }

        /// Asks `offer` for `mime`; returns the read end of the pipe.
        func receive(_ offer: UInt32, mime: String) throws -> OwnedFD {
            try Self.explained(context) {
                let ends = try Pipe.make()
                try probe.send(offer, "receive", [.text(mime), .fd], fds: [ends.write])
                try probe.roundtrip()
                return ends.read
            }
        }

        private static func explained<T>(_ context: () -> String, _ body: () throws -> T) throws -> T {
            do { return try body() } catch let error as SupportError {
                throw SupportError("\(error.message)\n\(context())")
            }
        }

        func close() { probe.close() }
    }

    /// Reads from `fd` until end of file, `limit` bytes, or `timeout`.
    /// Returns the bytes and whether end of file was reached.
    private func readPipe(_ fd: OwnedFD, limit: Int = 64 << 20, timeout: Double = 15) -> (bytes: [UInt8], eof: Bool) {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = monotonicSeconds() + timeout
        while out.count < limit {
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { return (out, false) }
            var p = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(min(remaining, 1) * 1000) + 1) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd.rawValue, $0.baseAddress, min($0.count, limit - out.count)) }
            if n == 0 { return (out, true) }
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; return (out, true) }
            out.append(contentsOf: buffer[0..<n])
        }
        return (out, false)
    }

    /// Waits until both proxies are back at their descriptor counts.
    private func expectNoLeak(_ chain: ProxiedSway, host: Int, guest: Int) {
        let back = waitUntil(timeout: 10, poll: 0.1) {
            (try? chain.host.openFDCount()) == host && (try? chain.guest.openFDCount()) == guest
        }
        #expect(back, """
            open fds: host \(host) -> \((try? chain.host.openFDCount()) ?? -1), guest \(guest) -> \((try? chain.guest.openFDCount()) ?? -1)
            host: \((try? openFDs(pid: chain.host.pid)).map { "\($0.sorted { $0.key < $1.key })" } ?? "?")
            guest: \((try? openFDs(pid: chain.guest.pid)).map { "\($0.sorted { $0.key < $1.key })" } ?? "?")
            \(chain.diagnostics())
            """)
    }

    private func randomFile(_ chain: ProxiedSway, bytes count: Int) throws -> (path: String, data: Data) {
        let path = chain.runtime.file("random-\(count).bin")
        var data = Data(count: count)
        data.withUnsafeMutableBytes { b in
            var g = SystemRandomNumberGenerator()
            let words = b.bindMemory(to: UInt64.self)
            for i in words.indices { words[i] = g.next() }
        }
        try data.write(to: URL(fileURLWithPath: path))
        return (path, data)
    }

    private func expectAlive(_ chain: ProxiedSway) {
        #expect(chain.host.isRunning, "\(chain.diagnostics())")
        #expect(chain.guest.isRunning, "\(chain.diagnostics())")
        #expect(chain.sway.isRunning, "\(chain.diagnostics())")
    }

    // MARK: Pipes

    @Test("a paste on sway whose reader closes the pipe early: logged on both sides, nothing leaks")
    func readerClosesEarly() throws {
        let chain = try ProxiedSway(allow: ["data-control"])
        defer { chain.stop() }
        let hostFDs = try restingFDCount(chain.host)
        let guestFDs = try restingFDCount(chain.guest)
        let (input, data) = try randomFile(chain, bytes: 8 << 20)
        try chain.shell(.guest, "wl-copy -t \(Self.mime) < \(input)")
        _ = try waitFor("the guest's selection on sway", timeout: 15, poll: 0.1) { () -> Bool? in
            try chain.shell(.host, "wl-paste -l", check: false).stdoutText.contains(Self.mime) ? true : nil
        }

        // head takes 1000 bytes and exits; wl-paste then dies writing to it,
        // and the pipe the host proxy writes into loses its reader.
        let head = try chain.shell(.host, "wl-paste -n -t \(Self.mime) | head -c 1000")
        #expect(head.stdout == data.prefix(1000))
        let hostLine = try chain.host.waitForLog(containing: "the local reader closed it early")
        let guestLine = try chain.guest.waitForLog(containing: "the reader on the other side of the link closed it early")
        print("reader closed early:\n  \(hostLine)\n  \(guestLine)")
        expectAlive(chain)

        // Everything still works: a whole paste of a new selection.
        try chain.shell(.guest, "echo after | wl-copy")
        let after = try waitFor("a paste after the early close", timeout: 15, poll: 0.1) { () -> String? in
            let r = try chain.shell(.host, "wl-paste -n", check: false)
            return r.exit.succeeded && r.stdoutText == "after\n" ? r.stdoutText : nil
        }
        #expect(after == "after\n")
        #expect(try chain.host.stats()["client_errors"] == 0)
        #expect(try chain.guest.stats()["client_errors"] == 0)
        // Clearing the selection on sway ends the guest's wl-copy; what is
        // left is the resting state.
        try chain.shell(.host, "wl-copy --clear")
        _ = try chain.host.waitForStats("compositor connections closed", timeout: 10) { $0["clients"] == 0 }
        expectNoLeak(chain, host: hostFDs, guest: guestFDs)
    }

    @Test("a guest paste target that stops reading, closes its pipe and disconnects mid-transfer")
    func pasteTargetDisappears() throws {
        let chain = try ProxiedSway(allow: ["data-control"])
        defer { chain.stop() }
        let hostFDs = try restingFDCount(chain.host)
        let guestFDs = try restingFDCount(chain.guest)
        let (input, data) = try randomFile(chain, bytes: 8 << 20)
        try chain.shell(.host, "wl-copy -t \(Self.mime) < \(input)")

        let target = try DataControlProbe(chain)
        let offer = try target.waitForSelection(offering: Self.mime)
        let pipe = try target.receive(offer, mime: Self.mime)
        // Take some of the data, so that the transfer is under way...
        let start = readPipe(pipe, limit: 300_000)
        #expect(start.bytes.count == 300_000 && Data(start.bytes) == data.prefix(300_000))
        // ...then the target closes its pipe: the guest's write fails.
        pipe.close()
        let guestLine = try chain.guest.waitForLog(containing: "the local reader closed it early")
        let hostLine = try chain.host.waitForLog(containing: "the reader on the other side of the link closed it early")
        print("paste target went away:\n  \(guestLine)\n  \(hostLine)")
        // And then it disappears altogether.
        target.close()

        // A second target vanishes at once after asking: socket and pipe together.
        let second = try DataControlProbe(chain)
        let pipe2 = try second.receive(try second.waitForSelection(offering: Self.mime), mime: Self.mime)
        pipe2.close()
        second.close()

        expectAlive(chain)
        // wl-copy on sway is still serving: a whole paste through the guest works.
        let third = try DataControlProbe(chain)
        defer { third.close() }
        let whole = readPipe(try third.receive(try third.waitForSelection(offering: Self.mime), mime: Self.mime), timeout: 60)
        #expect(whole.eof && whole.bytes.count == data.count && Data(whole.bytes) == data)
        third.close()
        _ = try chain.host.waitForStats("compositor connections closed", timeout: 10) { $0["clients"] == 0 }
        expectNoLeak(chain, host: hostFDs, guest: guestFDs)
        #expect(try chain.host.stats()["client_errors"] == 0)
        #expect(try chain.guest.stats()["client_errors"] == 0)
    }

    @Test("a guest selection whose source closes the pipe early gives sway's paste what was written, then end of file")
    func sourceClosesEarly() throws {
        let chain = try ProxiedSway(allow: ["data-control"])
        defer { chain.stop() }
        let hostFDs = try restingFDCount(chain.host)
        let guestFDs = try restingFDCount(chain.guest)

        let source = try DataControlProbe(chain)
        let src = source.probe.newID()
        try source.probe.send(source.manager, "create_data_source", [.newID(src)])
        try source.probe.send(src, "offer", [.text(Self.mime)])
        try source.probe.send(source.device, "set_selection", [.object(src)])
        try source.probe.roundtrip()

        for partial in ["partial data, then the writer gives up", ""] {
            let paste = try chain.startHostClient("wl-paste", ["-n", "-t", Self.mime])
            defer { paste.terminate() }
            try source.probe.wait("send for a paste on sway", timeout: 15) { p in
                p.events.contains { $0.objectID == src && $0.name == "send" } || p.events.contains { $0.objectID == src && $0.name == "cancelled" }
            }
            let send = try #require(source.probe.take { $0.objectID == src && $0.name == "send" }.first, "source cancelled")
            #expect(send.string(0) == Self.mime)
            let fd = send.fds[0]
            _ = Array(partial.utf8).withUnsafeBytes { write(fd.rawValue, $0.baseAddress, $0.count) }
            fd.close()
            let exit = paste.waitForExit(timeout: 15)
            #expect(exit != nil, "wl-paste still waits after the source closed its pipe\n\(chain.diagnostics())")
            #expect(paste.stdout == partial, "\(paste.diagnostics())")
        }
        expectAlive(chain)
        source.close()
        #expect(try chain.host.stats()["client_errors"] == 0)
        #expect(try chain.guest.stats()["client_errors"] == 0)
        _ = try chain.host.waitForStats("compositor connections closed", timeout: 10) { $0["clients"] == 0 }
        expectNoLeak(chain, host: hostFDs, guest: guestFDs)
    }

    @Test("a guest client asking for a mime type that was never offered: the host logs it, the pipe still ends")
    func receiveOfTypeNeverOffered() throws {
        let chain = try ProxiedSway(allow: ["data-control"])
        defer { chain.stop() }
        let hostFDs = try restingFDCount(chain.host)
        let guestFDs = try restingFDCount(chain.guest)
        try chain.shell(.host, "echo offered | wl-copy -t text/plain")

        let client = try DataControlProbe(chain)
        let offer = try client.waitForSelection(offering: "text/plain")
        let never = "application/x-porthole-never-offered"
        let result = readPipe(try client.receive(offer, mime: never), timeout: 15)
        let line = try chain.host.waitForLog(containing: "\"\(never)\", which was never offered")
        print("mime type never offered: \(line); the pipe gave \(result.bytes.count) bytes, end of file: \(result.eof)")
        #expect(result.eof, "the pipe never ended\n\(chain.diagnostics())")

        // An offered type on the same offer still works.
        let good = readPipe(try client.receive(offer, mime: "text/plain"))
        #expect(good.eof && String(decoding: good.bytes, as: UTF8.self) == "offered\n")
        client.close()
        expectAlive(chain)
        _ = try chain.host.waitForStats("compositor connections closed", timeout: 10) { $0["clients"] == 0 }
        expectNoLeak(chain, host: hostFDs, guest: guestFDs)
    }

    // MARK: Keymaps

    /// Every bad keymap, and clients hanging up right after the host refused
    /// theirs, have in-process tests (ProxyTests/HostChecks/HostileClientTests);
    /// the size past the end of the file stays here because sway 1.7 dies
    /// of SIGBUS on it: the compositor itself must survive.
    @Test("zwp_virtual_keyboard_v1.keymap whose size runs past the end of its file is refused by the host before sway maps it")
    func keymapSizePastItsFile() throws {
        let chain = try ProxiedSway(allow: ["virtual-keyboard"])
        defer { chain.stop() }
        let hostFDs = try restingFDCount(chain.host)
        let guestFDs = try restingFDCount(chain.guest)

        let probe = try WaylandProbe(socketPath: chain.guest.socketPath!)
        let seat = try probe.bind("wl_seat", version: 7)
        let manager = try probe.bind("zwp_virtual_keyboard_manager_v1", version: 1)
        let keyboard = probe.newID()
        try probe.send(manager, "create_virtual_keyboard", [.object(seat), .newID(keyboard)])
        try probe.roundtrip()

        // 4 KiB of file that a compositor would be told is 1 MiB: it would
        // map and read past the end of the file (SIGBUS).
        let fd = try Memfd.create(name: "short-keymap", size: 4096)
        _ = [UInt8](repeating: 0x20, count: 4096).withUnsafeBytes { pwrite(fd.rawValue, $0.baseAddress, $0.count, 0) }
        let sizeArgument: UInt32 = 1 << 20
        try probe.send(keyboard, "keymap", [.uint(1), .fd, .uint(sizeArgument)], fds: [fd])
        do {
            try probe.wait("a protocol error", timeout: 10) { $0.protocolError != nil || $0.disconnected }
        } catch let error as SupportError where error.message.contains("protocol error") || error.message.contains("closed the connection") {
            // dispatch reports the error by throwing; that is the outcome wanted.
        }
        let error = probe.protocolError ?? "none"
        print("keymap size past its file: the client got: \(error)")
        let expected = "keymap of 1048576 bytes on a 4096-byte resource"
        #expect(error.contains(expected), "\(chain.diagnostics())")
        let line = try chain.host.waitForLog(containing: expected)
        print("  host logged: \(line)")
        probe.close()

        expectAlive(chain)
        #expect(try chain.sway.seatCapabilities() & 2 == 0, "sway gained a keyboard from a refused keymap")
        _ = try chain.host.waitForStats("compositor connections closed", timeout: 10) { $0["clients"] == 0 }
        _ = try chain.guest.waitForStats("guest clients closed", timeout: 10) { $0["clients"] == 0 }
        expectNoLeak(chain, host: hostFDs, guest: guestFDs)
    }
}
