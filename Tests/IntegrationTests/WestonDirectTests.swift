import Foundation
import SystemTestSupport
import Testing

/// Real weston, no proxy: checks the integration-test support code (process
/// handling, screenshots, image analysis, wayland-info parsing) against the
/// real compositor and clients that the proxy tests build on.
@Suite("Weston directly, without the proxy")
struct WestonDirectTests {
    @Test("A bare headless weston shows only the plain desktop colour", .tags(.processes))
    func bareWestonIsPlain() throws {
        let weston = try Weston.start()
        defer { weston.stop() }
        let shot = try weston.screenshot()
        #expect(shot.width == 1280)
        #expect(shot.height == 720)
        #expect(shot.dominantColor() == Weston.background)
        #expect(shot.countDiffering(from: Weston.background) == 0,
                "desktop not plain; screenshot at \(shot.sourcePath ?? "?")")
    }

    @Test("weston-simple-shm's window shows up on screen and goes away when it quits", .tags(.processes))
    func simpleShmWindow() throws {
        let weston = try Weston.start()
        defer { weston.stop() }
        let client = try weston.startClient("weston-simple-shm")
        defer { client.terminate() }

        // weston-simple-shm draws a 250x250 buffer; the shell puts the window
        // at a random place, so look for a region of that size anywhere.
        func window(in shot: Image) -> Rect? {
            shot.regions(differingFrom: Weston.background, minPixels: 1000).first {
                (240...260).contains($0.width) && (240...260).contains($0.height)
            }
        }
        let shot = try weston.waitForScreenshot("a 250x250 weston-simple-shm window", timeout: 15) {
            window(in: $0) != nil
        }
        let box = try #require(window(in: shot))
        #expect(shot.bounds.contains(box))
        #expect(shot.countDiffering(from: Weston.background, in: box) > box.area / 2)
        #expect(shot.distinctColors(in: box) > 50, "a drawn window has many colours")
        // Nothing else is on screen.
        #expect(shot.boundingBox(differingFrom: Weston.background) == box)
        #expect(client.isRunning, "\(client.diagnostics())")

        let exit = client.terminate()
        #expect(exit == .exited(0) || exit == .signaled(SIGTERM))
        _ = try weston.waitForScreenshot("the window to disappear", timeout: 10) {
            $0.countDiffering(from: Weston.background) == 0
        }
        #expect(weston.isRunning)
    }

    @Test("wayland-info on bare weston lists the globals the proxy relies on", .tags(.processes))
    func waylandInfoGlobals() throws {
        let weston = try Weston.start()
        defer { weston.stop() }
        let globals = parseWaylandInfoGlobals(try weston.waylandInfo())
        for interface in ["wl_compositor", "wl_shm", "xdg_wm_base", "wl_output",
                          "wl_data_device_manager", "wp_viewporter", "wp_presentation"] {
            #expect(globals[interface] != nil, "\(interface) missing from \(globals.keys.sorted())")
        }
        #expect((globals["wl_compositor"] ?? 0) >= 4)
        #expect((globals["xdg_wm_base"] ?? 0) >= 1)
        #expect(globals["wl_seat"] == nil, "headless weston has no seat")
    }

    /// Checks of the support code on its own (no compositor).
    @Suite("Support code")
    struct SupportChecks {
        @Test func runtimeDirIsPrivateAndRemoved() throws {
            let dir = try RuntimeDir()
            let path = dir.path
            var st = stat()
            #expect(stat(path, &st) == 0)
            #expect(st.st_mode & 0o777 == 0o700)
            dir.cleanup()
            #expect(!FileManager.default.fileExists(atPath: path))
        }

        @Test(.tags(.processes)) func processOutputAndExitStatus() throws {
            let dir = try RuntimeDir()
            defer { dir.cleanup() }
            let p = try ManagedProcess("sh", ["-c", "echo out; echo err >&2; echo $FOO; exit 3"],
                                       environment: ["FOO": "bar"], logDirectory: dir.path)
            #expect(p.waitForExit(timeout: 10) == .exited(3))
            #expect(p.exitStatus == 3)
            #expect(p.stdout == "out\nbar\n")
            #expect(p.stderr == "err\n")
            let r = try runCommand("printf", ["%s", "x y"], logDirectory: dir.path)
            #expect(r.stdoutText == "x y")
            #expect(throws: SupportError.self) { try runCommand("false", logDirectory: dir.path) }
            #expect(throws: SupportError.self) { try ManagedProcess("no-such-program-xyz", logDirectory: dir.path) }
        }

        @Test(.tags(.processes)) func terminateEndsTheWholeProcessGroup() throws {
            let dir = try RuntimeDir()
            defer { dir.cleanup() }
            let p = try ManagedProcess("sh", ["-c", "sleep 100 & echo $!; wait"], logDirectory: dir.path)
            let child = try waitFor("the background child's pid") { Int32(p.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) }
            #expect(p.waitForExit(timeout: 0.2) == nil)
            #expect(p.terminate() == .signaled(SIGTERM))
            #expect(waitUntil(timeout: 5) { !isAlive(child) }, "sleep \(child) survived")
        }

        @Test(.tags(.processes)) func childrenStartWithNoSignalsBlocked() throws {
            let dir = try RuntimeDir()
            defer { dir.cleanup() }
            let p = try ManagedProcess("sleep", ["100"], logDirectory: dir.path)
            defer { p.kill() }
            let blocked = try waitFor("sleep's signal mask") { () -> String? in
                let status = try String(contentsOfFile: "/proc/\(p.pid)/status", encoding: .utf8)
                guard status.contains("Name:\tsleep") else { return nil }  // exec'd yet?
                return status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") }.map(String.init)
            }
            #expect(blocked == "SigBlk:\t0000000000000000")
        }

        @Test(.tags(.processes)) func terminateFallsBackToSIGKILL() throws {
            let dir = try RuntimeDir()
            defer { dir.cleanup() }
            let p = try ManagedProcess("sh", ["-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
                                       logDirectory: dir.path)
            try #require(waitUntil(timeout: 5) { p.stdout == "ready\n" })
            #expect(p.terminate(timeout: 0.5) == .signaled(SIGKILL))
            #expect(!p.isRunning)
        }

        @Test(.tags(.processes)) func deinitKillsTheProcess() throws {
            let dir = try RuntimeDir()
            defer { dir.cleanup() }
            var pid: Int32 = 0
            do {
                let p = try ManagedProcess("sleep", ["100"], logDirectory: dir.path)
                pid = p.pid
                #expect(isAlive(pid))
            }
            #expect(waitUntil(timeout: 5) { !isAlive(pid) })
        }

        @Test func imageAnalysis() {
            let bg = Color(rgb: 0x204060)
            var bytes = Image(width: 40, height: 30, fill: bg).rgba
            func paint(_ r: Rect, _ c: Color) {
                for y in r.y..<r.maxY { for x in r.x..<r.maxX {
                    let i = (y * 40 + x) * 4
                    bytes[i] = c.r; bytes[i + 1] = c.g; bytes[i + 2] = c.b; bytes[i + 3] = 0 // alpha ignored
                } }
            }
            paint(Rect(x: 2, y: 3, width: 10, height: 5), Color(rgb: 0xff0000))
            paint(Rect(x: 20, y: 10, width: 4, height: 4), Color(rgb: 0x00ff00))
            paint(Rect(x: 24, y: 14, width: 3, height: 3), Color(rgb: 0x0000ff))  // touches diagonally
            let image = Image(width: 40, height: 30, rgba: bytes)
            #expect(image.pixel(x: 2, y: 3) == (255, 0, 0, 0))
            #expect(image.dominantColor() == bg)
            #expect(image.countDiffering(from: bg) == 50 + 16 + 9)
            #expect(image.count { $0.g == 255 } == 16)
            #expect(image.boundingBox(differingFrom: bg) == Rect(x: 2, y: 3, width: 25, height: 14))
            #expect(image.regions(differingFrom: bg) == [Rect(x: 2, y: 3, width: 10, height: 5),
                                                         Rect(x: 20, y: 10, width: 7, height: 7)])
            #expect(image.regions(differingFrom: bg, minPixels: 26) == [Rect(x: 2, y: 3, width: 10, height: 5)])
            #expect(image.cropped(to: Rect(x: 20, y: 10, width: 4, height: 4)).distinctColors() == 1)
            #expect(bg.matches((0x21, 0x41, 0x5f, 255), tolerance: 1))
            #expect(!bg.matches((0x21, 0x41, 0x5f, 255)))
        }

        @Test(.tags(.processes)) func imageFileRoundTrip() throws {
            let dir = try RuntimeDir()
            defer { dir.cleanup() }
            var bytes = Image(width: 7, height: 5, fill: Color(rgb: 0x102030)).rgba
            bytes[(4 * 7 + 6) * 4] = 0xee
            let image = Image(width: 7, height: 5, rgba: bytes)
            try image.writePNG(to: dir.file("x.png"), logDirectory: dir.path)
            #expect(try Image.load(path: dir.file("x.png"), logDirectory: dir.path) == image)
        }

        @Test func statsFileToleratesPartialWrites() throws {
            let dir = try RuntimeDir()
            defer { dir.cleanup() }
            let path = dir.file("stats.json")
            #expect(throws: SupportError.self) { try readStatsFile(path, timeout: 0.1) }
            try #"{"commits": 3, "link_sent_by"#.write(toFile: path, atomically: false, encoding: .utf8)
            let writer = Thread {
                Thread.sleep(forTimeInterval: 0.3)
                try? #"{"commits": 3, "link_sent_bytes": 1024, "rate": 1.5, "name": "x"}"#
                    .write(toFile: path, atomically: false, encoding: .utf8)
            }
            writer.start()
            let stats = try readStatsFile(path, timeout: 5)
            #expect(stats == ["commits": 3, "link_sent_bytes": 1024, "rate": 1])
        }

        @Test func waylandInfoParsing() {
            let text = """
                interface: 'wl_compositor',                              version:  4, name:  1
                interface: 'wl_output',                                  version:  3, name: 13
                	name: headless
                	x: 0, y: 0, scale: 1,
                interface: 'wl_output',                                  version:  2, name: 14
                interface: 'xdg_wm_base',                                version:  3, name: 16
                """
            #expect(parseWaylandInfoGlobals(text) == ["wl_compositor": 4, "wl_output": 3, "xdg_wm_base": 3])
            #expect(parseWaylandInfoGlobalList(text).map(\.name) == [1, 13, 14, 16])
        }

        @Test func procAndNetworkHelpers() throws {
            #expect(try openFDCount(pid: getpid()) > 2)
            #expect(try openFDs(pid: getpid())[0] != nil)
            let port = try freeTCPPort()
            #expect(port > 0)
            #expect(!isTCPListening(port: port))
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(ok == 0)
            try #require(listen(fd, 1) == 0)
            #expect(isTCPListening(port: port))
            #expect(LinkAddress.tcp(host: "127.0.0.1", port: port).isListening)
            #expect(LinkAddress.tcp(host: "127.0.0.1", port: port).description == "tcp:127.0.0.1:\(port)")
            #expect(LinkMode.listen(.unix("/x/y")).arguments == ["--listen", "unix:/x/y"])
        }

        @Test func portholeBinaryLocation() {
            #expect(FileManager.default.fileExists(atPath: "\(packageRoot)/Package.swift"))
        }
    }
}

/// Whether `pid` exists and is not a zombie (this machine's init does not
/// always reap orphans promptly).
private func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
    return state != "Z" && state != "X"
}
