import Foundation
import Glibc
import PortholeSystem
import SystemTestSupport
import Testing
import Wayland

/// Keymaps through the proxies with a real sway: wl_keyboard.keymap from the
/// host to a guest client, and zwp_virtual_keyboard_v1.keymap from a guest
/// client (wtype) to the host. Headless sway starts with no keyboard; wtype's
/// virtual keyboard gives its seat one for as long as wtype runs.
@Suite("Keymaps through the proxies with sway", .serialized, .tags(.processes))
struct SwayKeyboardTests {
    static let eventdemoAppID = "org.freedesktop.weston.eventdemo"

    /// Starts weston-eventdemo logging key events (line-buffered, so the log
    /// can be read while it runs) on `side`, and waits for it to have focus.
    private func startEventDemo(_ chain: ProxiedSway, on side: ProxiedSway.Side) throws -> ManagedProcess {
        let args = ["-oL", "weston-eventdemo", "--log-key"]
        let demo = side == .guest ? try chain.startGuestClient("stdbuf", args) : try chain.startHostClient("stdbuf", args)
        do {
            try chain.sway.waitForFocus(appID: Self.eventdemoAppID)
        } catch {
            demo.terminate()
            throw SupportError("\(error)\n\(demo.diagnostics())")
        }
        return demo
    }

    /// The characters weston-eventdemo decoded for pressed keys, in order. It
    /// decodes them with the keymap its wl_keyboard received, so they are
    /// only right if that keymap arrived whole.
    private func typedText(_ demo: ManagedProcess) -> String {
        var text = ""
        for line in demo.stdout.split(separator: "\n") where line.contains("state: pressed") {
            guard let range = line.range(of: "unicode: ") else { continue }
            let digits = line[range.upperBound...].prefix { $0.isNumber }
            if let code = UInt32(digits), let scalar = Unicode.Scalar(code) { text.unicodeScalars.append(scalar) }
        }
        return text
    }

    private func waitForTyped(_ expected: String, _ demo: ManagedProcess, _ chain: ProxiedSway) throws {
        var last = ""
        let ok = waitUntil(timeout: 15, poll: 0.1) {
            last = typedText(demo)
            return last == expected
        }
        guard ok else {
            throw SupportError("weston-eventdemo saw '\(last)', expected '\(expected)'\n\(demo.diagnostics())\n\(chain.diagnostics())")
        }
    }

    /// A probe bound to the seat; returns it with the seat's id.
    private func seatProbe(_ path: String) throws -> (WaylandProbe, UInt32) {
        let probe = try WaylandProbe(socketPath: path)
        let seat = try probe.bind("wl_seat", version: 7)
        try probe.roundtrip()
        return (probe, seat)
    }

    /// The seat's latest capabilities event.
    private func capabilities(_ probe: WaylandProbe, seat: UInt32) -> UInt32? {
        probe.events.last { $0.objectID == seat && $0.name == "capabilities" }?.uint(0)
    }

    /// Waits for the seat to gain a keyboard, creates a wl_keyboard and
    /// returns its keymap event (format, fd, size).
    private func keymapAfterKeyboardAppears(_ probe: WaylandProbe, seat: UInt32) throws -> (format: UInt32, fd: OwnedFD, size: UInt32) {
        try probe.wait("the seat to gain a keyboard", timeout: 15) { self.capabilities($0, seat: seat).map { $0 & 2 != 0 } ?? false }
        let keyboard = probe.newID()
        try probe.send(seat, "get_keyboard", [.newID(keyboard)])
        try probe.wait("wl_keyboard.keymap", timeout: 10) { $0.events.contains { $0.objectID == keyboard && $0.name == "keymap" } }
        let event = probe.take { $0.objectID == keyboard && $0.name == "keymap" }[0]
        return (event.uint(0) ?? 0, event.fds[0], event.uint(2) ?? 0)
    }

    @Test("a guest client gets a working keymap once the host seat gains a keyboard")
    func keymapReachesGuest() throws {
        let chain = try ProxiedSway()
        defer { chain.stop() }
        let demo = try startEventDemo(chain, on: .guest)
        defer { demo.terminate() }

        // No keyboard yet, seen directly and through the proxies.
        #expect(try chain.sway.seatCapabilities() & 2 == 0)
        let (viaGuest, guestSeat) = try seatProbe(chain.guest.socketPath!)
        defer { viaGuest.close() }
        let (direct, directSeat) = try seatProbe(chain.sway.socketPath)
        defer { direct.close() }
        #expect(capabilities(viaGuest, seat: guestSeat).map { $0 & 2 } == 0)

        // wtype's virtual keyboard joins the seat; it types after 3 s.
        let wtype = try chain.startHostClient("wtype", ["-s", "3000", "hello"])
        defer { wtype.terminate() }

        let proxied = try keymapAfterKeyboardAppears(viaGuest, seat: guestSeat)
        let reference = try keymapAfterKeyboardAppears(direct, seat: directSeat)
        let proxiedBytes = try readWholeFile(proxied.fd)
        let referenceBytes = try readWholeFile(reference.fd)
        print("keymap host→guest: \(proxiedBytes.count) bytes (size argument \(proxied.size)), direct \(referenceBytes.count) bytes")
        #expect(proxied.format == 1, "xkb_v1 keymap format")
        #expect(proxied.size == reference.size)
        #expect(proxiedBytes == referenceBytes, "the keymap through the proxies differs from sway's")
        #expect(String(decoding: proxiedBytes.prefix(10), as: UTF8.self) == "xkb_keymap")
        // The guest hands out a sealed, unwritable copy.
        let seals = try Memfd.seals(of: proxied.fd)
        #expect(seals.contains(.write) && seals.contains(.shrink) && seals.contains(.grow))

        // And it works: the guest window decodes wtype's keys with it.
        try waitForTyped("hello", demo, chain)
        #expect(wtype.waitForExit(timeout: 15)?.succeeded == true, "\(wtype.diagnostics())")
        #expect(try chain.guest.stats()["client_errors"] == 0, "\(chain.diagnostics())")
        #expect(try chain.host.stats()["client_errors"] == 0, "\(chain.diagnostics())")
    }

    @Test("wtype in the guest types into a sway window (its keymap crosses guest→host)")
    func wtypeInGuestTypesOnHost() throws {
        let chain = try ProxiedSway(allow: ["virtual-keyboard"])
        defer { chain.stop() }
        let demo = try startEventDemo(chain, on: .host)
        defer { demo.terminate() }

        let wtype = try chain.startGuestClient("wtype", ["-s", "1000", "porthole"])
        defer { wtype.terminate() }
        #expect(wtype.waitForExit(timeout: 20)?.succeeded == true, "\(wtype.diagnostics())\n\(chain.diagnostics())")
        try waitForTyped("porthole", demo, chain)

        #expect(try chain.guest.stats()["client_errors"] == 0, "\(chain.diagnostics())")
        #expect(try chain.host.stats()["client_errors"] == 0, "\(chain.diagnostics())")
        for p in [chain.host, chain.guest] {
            let problems = p.process.stderr.split(separator: "\n").filter { $0.contains(" warning: ") || $0.contains(" error: ") }
            #expect(problems.isEmpty, "porthole \(p.role.rawValue) logged: \(problems)")
        }
    }
}
