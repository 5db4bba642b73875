import Foundation
import Glibc
import SystemTestSupport
import Testing

/// Guest-to-guest buffers between real processes (docs/buffer-sharing.md
/// §7): three `porthole guest`s on one `porthole host` over unix links. A
/// publishes 640x480 frames and grants them to B by the name the host gave
/// B; B's `porthole buffers watch --import` verifies every frame's stamp and
/// checksum; C's import of the same handle is refused; killing A's proxy
/// revokes the grant for B and the host lets go of everything.
@Suite("Buffer sharing between guests", .serialized, .tags(.processes))
struct GuestToGuestBufferTests {
    /// `shared`: A and B map a sharing region the host declared for them,
    /// A's producer allocates there, and B reads it in place (no pixel byte
    /// on either link); otherwise B's copy comes through the host.
    @Test("a granted guest verifies every frame, another is refused, killing the producer revokes", arguments: [false, true])
    func aGrantedGuestVerifiesEveryFrameAnotherIsRefusedAndKillingTheProducerRevokes(shared: Bool) throws {
        let runtime = try RuntimeDir()
        let link = LinkAddress.unix(in: runtime)
        let common = runtime.file("sharing-region")
        let host = try Porthole.startHost(runtime: runtime, link: .listen(link), display: "wayland-none",
                                          extraArguments: shared ? ["--shared-region", "\(common):guest,guest-2"] : [])
        defer { host.terminate() }
        try host.waitForListening()
        // The host names guests in the order their links arrive: guest, guest-2, guest-3.
        var guests: [PortholeProcess] = []
        defer { for g in guests { g.terminate() } }
        for (i, label) in ["a", "b", "c"].enumerated() {
            guests.append(try Porthole.startGuest(runtime: runtime, link: .connect(link), socketName: "wayland-\(label)",
                                                  extraArguments: ["--buffers-socket", runtime.file("\(label)-producers.sock"),
                                                                   "--buffers-consumer-socket", runtime.file("\(label)-consumers.sock")]
                                                      + (shared && label != "c" ? ["--shared-region", common] : [])))
            try host.waitForStats("guest \(label)") { $0["links"] == i + 1 }
        }
        for label in ["a", "b", "c"] {
            let socket = runtime.file(label == "a" ? "a-producers.sock" : "\(label)-consumers.sock")
            try #require(waitUntil { isSocket(socket) }, "no buffer socket in \(label)")
        }
        let baseline = try host.openFDCount()
        let env = ["XDG_RUNTIME_DIR": runtime.path]
        func porthole(_ arguments: [String]) throws -> ManagedProcess {
            try ManagedProcess(try portholeBinary(), arguments, environment: env, logDirectory: runtime.path)
        }

        let publish = try porthole(["share", "publish", "--socket", runtime.file("a-producers.sock"), "--app", "camera", "--size", "640x480",
                                    "--fps", "30", "--pattern", "--grant", "guest-2"] + (shared ? ["--shared"] : []))
        defer { publish.terminate() }
        let line = try waitFor("the handle", timeout: 10, poll: 0.05) { () -> String? in
            publish.stdout.split(separator: "\n").first { $0.hasPrefix("handle ") && $0.hasSuffix(" for guest-2") }.map(String.init)
        }
        let handle = String(line.split(separator: " ")[1])
        #expect(handle.count == 32)

        // C holds the handle, but the grant names B.
        let refused = try runCommand(try portholeBinary(), ["buffers", "watch", "--socket", runtime.file("c-consumers.sock"), "--import", handle],
                                     environment: env, logDirectory: runtime.path, timeout: 20, check: false)
        #expect(refused.exit.succeeded == false && refused.stdoutText.contains("import refused: no such reference for guest guest-3"), "\(refused.stdoutText)")

        let frames = 60
        let watch = try runCommand(try portholeBinary(), ["buffers", "watch", "--socket", runtime.file("b-consumers.sock"), "--import", handle,
                                                          "--frames", "\(frames)", "--quiet"],
                                   environment: env, logDirectory: runtime.path, timeout: 30)
        #expect(watch.stdoutText.contains("watched \(frames) updates (\(frames) verified, 0 bad)"), "\(watch.stdoutText)")

        // A second consumer in B holds on while A's guest proxy is killed.
        let holder = try porthole(["buffers", "watch", "--socket", runtime.file("b-consumers.sock"), "--import", handle, "--duration", "60"])
        defer { holder.terminate() }
        #expect(waitUntil { holder.stdout.contains("added: guest=guest app=camera") && holder.stdout.contains("updates/s") }, "\(holder.diagnostics())")
        let view = shared ? "guest_consumer_views_shared" : "guest_consumer_views_copied"
        let during = try host.waitForStats("B's view, \(shared ? "shared" : "copied")") { $0[view] == 1 && $0["buffer_references"] == 1 }
        #expect(during["shared_buffers"] == 1, "\(during)")
        if shared {
            // Not a pixel byte on A's link nor on B's.
            #expect(during["pixel_bytes_sent"] == 0, "\(during)")
            #expect(try guests[0].stats()["pixel_bytes_sent"] == 0)
            #expect(try host.waitForLog(containing: "reaches a consumer in the guest shared").contains("guest-2"))
        } else {
            #expect(try host.waitForLog(containing: "reaches a consumer in the guest copied").contains("guest-2"))
        }
        let lanesBefore = try #require(try host.stats()["bulk_lanes"])
        _ = guests[0].process.kill()
        #expect(holder.waitForExit(timeout: 10)?.succeeded == true, "\(holder.diagnostics())")
        #expect(holder.stdout.contains("reference revoked"), "\(holder.stdout)")
        let after = try host.waitForStats("everything let go") {
            $0["links"] == 2 && $0["shared_buffers"] == 0 && $0["buffer_references"] == 0 && $0["guest_consumer_views_copied"] == 0
                && $0["guest_consumer_views_shared"] == 0
                && $0["buffer_consumers"] == 0
        }
        #expect(after["link_errors"] == 0, "\(after)")
        // Only A's link socket (and its bulk lane's) is gone from what the host held before anything was shared.
        let lanesGone = lanesBefore - (after["bulk_lanes"] ?? -1)
        #expect(lanesGone == 1, "A's lane: \(lanesBefore) lanes before, \(after)")
        let fds = { (try? host.openFDCount()) ?? -1 }
        #expect(waitUntil { fds() == baseline - 1 - lanesGone }, "the host holds \(fds()) fds, \(baseline) with A's link and lane")
    }

    /// Host to guest: `porthole share publish` on the host's own producer
    /// socket, `--buffers-to-guest camera@guest`, and `porthole buffers
    /// watch` in the guest checks every frame.
    @Test func aHostProgramsFramesReachAConsumerInTheGuestTheHostAllows() throws {
        let runtime = try RuntimeDir()
        let (host, guest, producers, consumers) = try Porthole.startHostToGuestBuffers(runtime: runtime, application: "camera")
        defer { guest.terminate(); host.terminate() }
        let env = ["XDG_RUNTIME_DIR": runtime.path]
        let frames = 40
        let watch = try ManagedProcess(try portholeBinary(), ["buffers", "watch", "--socket", consumers, "--app", "camera", "--frames", "\(frames)"],
                                       environment: env, logDirectory: runtime.path)
        try host.waitForStats("the guest's consumer") { $0["buffer_consumers"] == 1 }
        let publish = try runCommand(try portholeBinary(), ["share", "publish", "--socket", producers, "--app", "camera", "--size", "640x480",
                                                            "--fps", "60", "--frames", "\(frames)", "--pattern"],
                                     environment: env, logDirectory: runtime.path, timeout: 30)
        #expect(publish.stdoutText.contains("0 not released in time"), "\(publish.stdoutText)")
        #expect(watch.waitForExit(timeout: 20)?.succeeded == true, "\(watch.diagnostics())")
        #expect(watch.stdout.contains("added: guest=host app=camera"), "\(watch.stdout)")
        #expect(watch.stdout.contains("watched \(frames) updates (\(frames) verified, 0 bad)"), "\(watch.stdout)")
        // Only changed bytes crossed: the whole frame once, then two bands and the stamp's row a frame.
        let whole = 640 * 480 * 4, perFrame = (2 * 16 + 1) * 640 * 4
        let stats = try host.waitForStats("every present") { $0["buffer_presents"] == frames && ($0["pixel_bytes_sent"] ?? 0) > 0 }
        let sent = stats["pixel_bytes_sent"] ?? 0
        #expect(sent > 0 && sent <= whole + frames * perFrame, "\(sent) pixel bytes for \(frames) frames")
    }
}
