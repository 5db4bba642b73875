import Foundation
import Harness
import SystemTestSupport
import Testing

/// What a guest may do on the host desktop, against a real headless sway:
/// nothing beyond an ordinary application's needs unless the host allows it
/// (`--allow`), the clipboard only in the directions the host allows
/// (`--clipboard`), and every window labelled with the name the host gave
/// the guest (`--name`).
@Suite("Guest policy on the host desktop with sway", .serialized, .tags(.processes))
struct SwayGuestPolicyTests {
    static let powers = ["zwp_virtual_keyboard_manager_v1", "zwlr_virtual_pointer_manager_v1", "zwlr_data_control_manager_v1"]

    @Test("by default a guest is offered no virtual keyboard, virtual pointer or data-control, so wtype, a virtual pointer and wl-paste --watch fail in it")
    func nothingBeyondAnApplicationByDefault() throws {
        let chain = try ProxiedSway()
        defer { chain.stop() }
        let direct = try chain.shell(.host, "wayland-info").stdoutText
        let proxied = try chain.shell(.guest, "wayland-info").stdoutText
        for global in Self.powers {
            #expect(direct.contains(global), "sway itself offers \(global), or this test shows nothing")
            #expect(!proxied.contains(global), "a guest client was offered \(global)")
        }
        #expect(proxied.contains("wl_compositor") && proxied.contains("xdg_wm_base"))

        let wtype = try chain.shell(.guest, "wtype porthole 2>&1", timeout: 10, check: false)
        #expect(!wtype.exit.succeeded && wtype.stdoutText.contains("virtual keyboard"), "wtype through the guest: \(wtype.exit), \(wtype.stdoutText)")
        let watch = try chain.shell(.guest, "timeout 5 wl-paste --watch true 2>&1", timeout: 10, check: false)
        #expect(!watch.exit.succeeded && watch.exit != .exited(124), "wl-paste --watch ran in the guest (\(watch.exit)): \(watch.stdoutText)")
        #expect(throws: HarnessError.self) {
            try VirtualPointer(socketPath: chain.guest.socketPath!, extentWidth: 100, extentHeight: 100)
        }
        #expect(chain.host.isRunning && chain.guest.isRunning)
        print("default policy: wtype \(wtype.exit): \(wtype.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)); wl-paste --watch \(watch.exit): \(watch.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    @Test("--allow virtual-pointer,data-control lets a guest client move and click the host pointer and watch the host clipboard")
    func allowedPowersWork() throws {
        let chain = try ProxiedSway(allow: ["virtual-pointer", "data-control"])
        defer { chain.stop() }
        let proxied = try chain.shell(.guest, "wayland-info").stdoutText
        #expect(proxied.contains("zwlr_virtual_pointer_manager_v1") && proxied.contains("zwlr_data_control_manager_v1"))
        #expect(!proxied.contains("zwp_virtual_keyboard_manager_v1"), "only what was allowed")

        let pointer = try VirtualPointer(socketPath: chain.guest.socketPath!, extentWidth: chain.sway.width, extentHeight: chain.sway.height)
        defer { pointer.close() }
        try pointer.move(toX: chain.sway.width / 2, y: chain.sway.height / 2)
        try pointer.click()

        let seen = chain.runtime.file("watched.txt")
        let watcher = try chain.startGuestClient("sh", ["-c", "wl-paste --watch sh -c 'cat >> \(seen)'"])
        defer { watcher.terminate() }
        let text = "watched-\(UInt32.random(in: 0...UInt32.max))"
        _ = try waitFor("the guest's wl-paste --watch to see a host copy", timeout: 15, poll: 0.3) { () -> Bool? in
            try chain.shell(.host, "echo \(text) | wl-copy")
            return ((try? String(contentsOfFile: seen, encoding: .utf8)) ?? "").contains(text) ? true : nil
        }
        #expect(try chain.guest.stats()["client_errors"] == 0, "\(chain.diagnostics())")
        #expect(try chain.host.stats()["client_errors"] == 0, "\(chain.diagnostics())")
    }

    /// foot in the guest of a host with `--clipboard DIRECTION`, showing a
    /// random word on its first row, then writing what is pasted into it to
    /// the file foot-pasted.txt.
    private func footWithAWord(clipboard: String) throws -> (String, SwayPrimarySelectionTests.Setup) {
        let word = "guest-word-\(UInt32.random(in: 0...UInt32.max))"
        let setup = try SwayPrimarySelectionTests.Setup(hostArguments: ["--clipboard", clipboard]) {
            "printf '%s\\n' \(word); exec cat > \($0.runtime.file("foot-pasted.txt"))"
        }
        return (word, setup)
    }

    @Test("--clipboard to-guest: a host copy reaches foot in the guest, a word selected in foot never reaches the host")
    func clipboardToGuestOnly() throws {
        let (word, setup) = try footWithAWord(clipboard: "to-guest")
        defer { setup.stop() }
        let chain = setup.chain

        // Out of the guest: foot sets the selection, the host never sees it.
        try setup.pointer.move(toX: setup.window.x + 12, y: setup.window.y + 6)
        try setup.pointer.doubleClick()
        _ = try waitFor("foot to set the primary selection", timeout: 10, poll: 0.1) { () -> Bool? in
            setup.traced(".set_selection(zwp_primary_selection_source_v1@") > 0 ? true : nil
        }
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline {
            let r = try chain.shell(.host, "wl-paste --primary -n", check: false)
            #expect(!r.stdoutText.contains(word), "the guest's selection reached the host")
            Thread.sleep(forTimeInterval: 0.3)
        }

        // Into the guest: a host copy is pasted by a middle click in foot.
        let text = "from-the-host-\(UInt32.random(in: 0...UInt32.max))"
        try chain.shell(.host, "echo '\(text)' | wl-copy --primary")
        _ = try waitFor("foot to be offered the host's selection", timeout: 10, poll: 0.05) { () -> Bool? in
            setup.traced(".selection(zwp_primary_selection_offer_v1@") > 0 ? true : nil
        }
        try setup.pointer.move(toX: setup.window.x + setup.window.width / 2, y: setup.window.y + setup.window.height / 2)
        try setup.pointer.click(.middle)
        let output = chain.runtime.file("foot-pasted.txt")
        let pasted = try waitFor("the paste to reach cat in foot", timeout: 10, poll: 0.05) { () -> String? in
            let content = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            return content.hasSuffix("\n") ? content : nil
        }
        #expect(pasted == text + "\n", "\(chain.diagnostics())")
        #expect(try chain.guest.stats()["client_errors"] == 0, "\(chain.diagnostics())")
    }

    @Test("--clipboard from-guest: foot in the guest is told there is no selection when the host copies, and its own selection reaches the host")
    func clipboardFromGuestOnly() throws {
        let (word, setup) = try footWithAWord(clipboard: "from-guest")
        defer { setup.stop() }
        let chain = setup.chain

        let nullBefore = setup.traced(".selection(nil)")
        try chain.shell(.host, "echo host-secret | wl-copy --primary")
        _ = try waitFor("foot to be told there is no selection", timeout: 10, poll: 0.05) { () -> Bool? in
            setup.traced(".selection(nil)") > nullBefore ? true : nil
        }
        #expect(setup.traced(".selection(zwp_primary_selection_offer_v1@") == 0, "foot was offered the host's selection")
        try setup.pointer.move(toX: setup.window.x + setup.window.width / 2, y: setup.window.y + setup.window.height / 2)
        try setup.pointer.click(.middle)
        Thread.sleep(forTimeInterval: 1)
        let output = chain.runtime.file("foot-pasted.txt")
        #expect(((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").isEmpty, "a middle click in the guest pasted the host's selection")

        let pasted = try setup.selectWordUntilHostPastes(word, dx: 12, dy: 6)
        #expect(pasted == word)
    }

    @Test("guest windows show on sway as '[name] title'; a second guest is name-2; a title that claims another name still starts with the real one")
    func windowsAreLabelledWithTheGuestName() throws {
        let chain = try ProxiedSway(hostArguments: ["--name", "work"])
        defer { chain.stop() }
        let second = try Porthole.startGuest(runtime: chain.runtime, link: .connect(.unix(in: chain.runtime)), socketName: "wayland-guest2")
        defer { _ = second.terminate() }
        try second.waitForSocket(timeout: 15)

        let first = try chain.startGuestClient("foot", ["--title", "[host] terminal", "sleep", "600"])
        defer { first.terminate() }
        let other = try second.startClient("foot", ["--title", "notes", "sleep", "600"])
        defer { other.terminate() }
        let titles = try waitFor("two guest windows on sway", timeout: 20, poll: 0.2) { () -> [String]? in
            let t = try chain.sway.windows().compactMap(\.title).sorted()
            return t.count == 2 ? t : nil
        }
        print("guest window titles on sway: \(titles)")
        #expect(titles == ["[work-2] notes", "[work] [host] terminal"])
    }
}

/// `--policy FILE`: guests named and trusted by who the kernel says they are.
@Suite("Guest policy files with sway", .serialized, .tags(.processes))
struct SwayPolicyFileTests {
    private func writePolicy(_ runtime: RuntimeDir, _ json: String) throws -> String {
        let path = runtime.file("policy.json")
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a rule for the link's unix user names the guest and allows it a virtual keyboard; wtype types through it")
    func ruleForTheUnixUser() throws {
        let runtime = try RuntimeDir()
        let policy = try writePolicy(runtime, #"{"guests": [{"peer": "uid:4242", "name": "nobody-here"}, {"peer": "uid:\#(getuid())", "name": "root-vm", "allow": ["virtual-keyboard"]}]}"#)
        let chain = try ProxiedSway(hostArguments: ["--policy", policy])
        defer { chain.stop() }
        let terminal = try chain.startGuestClient("foot", ["--title", "shell", "sleep", "600"])
        defer { terminal.terminate() }
        let title = try waitFor("the guest's window on sway", timeout: 20, poll: 0.2) { () -> String? in
            try chain.sway.windows().compactMap(\.title).first
        }
        #expect(title == "[root-vm] shell")
        let wtype = try chain.shell(.guest, "wtype -s 200 x 2>&1", timeout: 20, check: false)
        #expect(wtype.exit.succeeded, "the rule allows a virtual keyboard: \(wtype.stdoutText)")
        let line = try chain.host.waitForLog(containing: "peer uid:\(getuid())")
        print("host: \(line)")
    }

    @Test("a guest no rule names is refused: the host logs who it was and serves the next guest that a rule names")
    func guestWithoutARuleIsRefused() throws {
        let runtime = try RuntimeDir()
        let sway = try Sway(runtime: runtime)
        defer { _ = sway.stop() }
        let policy = try writePolicy(runtime, #"{"guests": [{"peer": "tcp:127.0.0.2", "name": "elsewhere"}]}"#)
        let address = try LinkAddress.freeLoopbackTCP()
        let host = try Porthole.startHost(runtime: runtime, link: .listen(address), display: sway.socketPath,
                                          extraArguments: ["--policy", policy])
        defer { _ = host.terminate() }
        try host.waitForListening(timeout: 15)
        let guest = try Porthole.startGuest(runtime: runtime, link: .connect(address), extraArguments: ["--no-reconnect"])
        defer { _ = guest.terminate() }
        let line = try host.waitForLog(containing: "refusing a guest link from tcp:127.0.0.1")
        print("host: \(line)")
        let exit = guest.waitForExit(timeout: 15)
        #expect(exit != nil && exit?.succeeded == false, "the refused guest gives up (--no-reconnect)\n\(guest.diagnostics())")
        #expect(host.isRunning)
    }

    @Test("a bad policy file stops the host at start with the rule and the reason")
    func badPolicyFile() throws {
        let runtime = try RuntimeDir()
        let policy = try writePolicy(runtime, #"{"guests": [{"peer": "*", "name": "ok"}, {"peer": "uid:1", "name": "x", "allow": ["telepathy"]}]}"#)
        let result = try runCommand(try portholeBinary(), ["host", "--listen", "unix:\(runtime.file("l.sock"))", "--display", "none", "--policy", policy],
                                    logDirectory: runtime.path, timeout: 10, check: false)
        #expect(!result.exit.succeeded)
        #expect(result.stderr.contains("rule 2: unknown capability 'telepathy'"), "\(result.stderr)")
    }
}

/// wp_security_context_v1 on a compositor that offers it (a stand-in: sway
/// 1.7 and weston 10 here do not).
@Suite("Guests registered under the compositor's security context", .tags(.processes))
struct SecurityContextTests {
    @Test("the host registers each guest (engine porthole, app id its name) and connects its clients through the context; the context ends with the link")
    func guestConnectionsGoThroughTheSecurityContext() throws {
        let runtime = try RuntimeDir()
        let compositor = try SecurityContextCompositor(socketPath: runtime.file("wayland-sc"))
        defer { compositor.stop() }
        let address = LinkAddress.unix(in: runtime)
        let host = try Porthole.startHost(runtime: runtime, link: .listen(address), display: compositor.socketPath, extraArguments: ["--name", "vmtest"])
        defer { _ = host.terminate() }
        try host.waitForListening(timeout: 15)
        let guest = try Porthole.startGuest(runtime: runtime, link: .connect(address), socketName: "wayland-guest")
        try guest.waitForSocket(timeout: 15)

        let info = try runCommand("wayland-info", [], environment: runtime.clientEnvironment(display: "wayland-guest"), logDirectory: runtime.path, timeout: 20)
        #expect(info.stdoutText.contains("wl_compositor"))
        #expect(!info.stdoutText.contains("wp_security_context_manager_v1"), "a guest may never make contexts of its own")
        let contexts = compositor.contexts
        #expect(contexts.count == 1)
        #expect(contexts.first?.engine == "porthole" && contexts.first?.appID == "vmtest" && contexts.first?.committed == true, "\(contexts)")
        #expect(contexts.first?.clients == 1, "the guest's client came through the context's socket")
        #expect(compositor.displayClients == 1, "only the registration itself used the display socket")
        try host.waitForLog(containing: "registered with the compositor's security context")

        _ = guest.terminate()
        _ = try waitFor("the context to end with the link", timeout: 10, poll: 0.1) { () -> Bool? in
            compositor.contexts.first?.closed == true ? true : nil
        }
    }
}
