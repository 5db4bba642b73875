import Foundation
import Harness
import SystemTestSupport
import Testing

/// The primary selection (select to copy, middle-click to paste) through the
/// proxies, with foot in the guest: foot speaks zwp_primary_selection_v1
/// itself, unlike wl-clipboard, which goes through data-control. A virtual
/// pointer selects and pastes, as a user's mouse would.
@Suite("Primary selection through the proxies with sway", .serialized, .tags(.processes))
struct SwayPrimarySelectionTests {
    /// foot in the guest, running `script`, with a virtual pointer on the
    /// seat (added first, so foot binds a wl_pointer) and foot focused.
    struct Setup {
        let chain: ProxiedSway
        let pointer: VirtualPointer
        let foot: ManagedProcess
        let window: Sway.Window

        /// `script(chain)` is the shell command foot runs; `hostArguments` go to the host proxy.
        init(hostArguments: [String] = [], script: (ProxiedSway) -> String) throws {
            chain = try ProxiedSway(hostArguments: hostArguments)
            do {
                pointer = try VirtualPointer(socketPath: chain.sway.socketPath, extentWidth: chain.sway.width, extentHeight: chain.sway.height)
                foot = try chain.startGuestClient("foot", ["sh", "-c", script(chain)], environment: ["WAYLAND_DEBUG": "1"])
                window = try chain.sway.waitForSteadyWindow(pid: chain.host.pid)
                try chain.sway.waitForFocus(appID: "foot")
            } catch {
                chain.stop()
                throw error
            }
        }

        /// Double-clicks the word at (`dx`, `dy`) of foot's window until
        /// `wl-paste --primary` on the host returns it, aiming anew at each
        /// try where sway has the window then; on a timeout the error says
        /// where that was, what foot received (its last pointer events, with
        /// the times its trace gives them) and whether it set the selection.
        func selectWordUntilHostPastes(_ word: String, dx: Int, dy: Int, timeout: Double = 15) throws -> String {
            var lastPaste = "", clicks = 0, aim = window
            do {
                return try waitFor("wl-paste --primary on the host to return the guest's word", timeout: timeout, poll: 0.3) { () -> String? in
                    aim = try chain.sway.windows().first { $0.pid == chain.host.pid } ?? aim
                    try pointer.move(toX: aim.x + dx, y: aim.y + dy)
                    try pointer.doubleClick()
                    clicks += 1
                    let r = try chain.shell(.host, "wl-paste --primary -n", check: false)
                    lastPaste = "\(r.exit), \(r.stdoutText.debugDescription)"
                    return r.exit.succeeded && r.stdoutText == word ? r.stdoutText : nil
                }
            } catch {
                let buttons = foot.stderr.split(separator: "\n").filter { $0.contains("wl_pointer@") && !$0.contains("motion") }.suffix(12)
                throw SupportError("""
                    \(error); \(clicks) double clicks, the last at (\(aim.x + dx), \(aim.y + dy)) in \(aim); foot set the primary selection \(traced(".set_selection(zwp_primary_selection_source_v1@")) times; \
                    the last wl-paste: \(lastPaste)
                    foot's last pointer events:
                    \(buttons.joined(separator: "\n"))
                    \(chain.diagnostics())
                    """)
            }
        }

        /// Lines of foot's WAYLAND_DEBUG trace containing every one of `parts`.
        func traced(_ parts: String...) -> Int {
            foot.stderr.split(separator: "\n").lazy.filter { line in parts.allSatisfy { line.contains($0) } }.count
        }

        func stop() {
            pointer.close()
            foot.terminate()
            chain.stop()
        }
    }

    @Test("a word double-clicked in foot in the guest is what wl-paste --primary returns on sway")
    func selectInGuestPasteOnHost() throws {
        let word = "porthole-primary-\(UInt32.random(in: 0...UInt32.max))"
        let setup = try Setup { _ in "printf '%s\\n' \(word); exec sleep 600" }
        defer { setup.stop() }
        let chain = setup.chain

        // The word is the first thing on foot's first row.
        let pasted = try setup.selectWordUntilHostPastes(word, dx: 12, dy: 6)
        #expect(pasted == word)
        #expect(setup.traced("zwp_primary_selection_device_v1@", ".set_selection(zwp_primary_selection_source_v1@") > 0,
                "foot did not set the primary selection itself\n\(chain.diagnostics())")
        #expect(setup.traced("zwp_primary_selection_source_v1@", ".send(\"text/plain") > 0)

        let stats = try chain.guest.waitForStats("pipe bytes counted", timeout: 5) { $0["pipe_bytes_sent", default: 0] >= word.utf8.count }
        #expect(stats["client_errors"] == 0)
        #expect(try chain.host.stats()["client_errors"] == 0, "\(chain.diagnostics())")
    }

    @Test("wl-copy --primary on sway, a middle click in foot in the guest pastes it")
    func copyOnHostMiddleClickInGuest() throws {
        let text = "pasted-from-the-host-\(UInt32.random(in: 0...UInt32.max))"
        let setup = try Setup { "exec cat > \($0.runtime.file("foot-pasted.txt"))" }
        defer { setup.stop() }
        let chain = setup.chain
        let output = chain.runtime.file("foot-pasted.txt")

        let offersBefore = setup.traced("zwp_primary_selection_device_v1@", ".selection(zwp_primary_selection_offer_v1@")
        try chain.shell(.host, "echo '\(text)' | wl-copy --primary")
        // Sway offers the new primary selection to the focused client, foot, through the proxies.
        _ = try waitFor("foot to be offered the primary selection", timeout: 10, poll: 0.05) { () -> Bool? in
            setup.traced("zwp_primary_selection_device_v1@", ".selection(zwp_primary_selection_offer_v1@") > offersBefore ? true : nil
        }
        try setup.pointer.move(toX: setup.window.x + setup.window.width / 2, y: setup.window.y + setup.window.height / 2)
        try setup.pointer.click(.middle)

        // foot writes the paste to cat's terminal; cat writes it to the file.
        let pasted = try waitFor("the paste to reach cat in foot", timeout: 10, poll: 0.05) { () -> String? in
            let content = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            return content.hasSuffix("\n") ? content : nil
        }
        #expect(pasted == text + "\n", "\(chain.diagnostics())")
        #expect(setup.traced("zwp_primary_selection_offer_v1@", ".receive(\"text/plain") == 1)

        let stats = try chain.host.waitForStats("pipe bytes counted", timeout: 5) { $0["pipe_bytes_sent", default: 0] >= text.utf8.count }
        #expect(stats["client_errors"] == 0)
        #expect(try chain.guest.stats()["client_errors"] == 0, "\(chain.diagnostics())")
    }
}
