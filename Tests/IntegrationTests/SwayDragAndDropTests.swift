import Foundation
import Harness
import SystemTestSupport
import Testing

/// Drag and drop between a guest window and a host window: weston-dnd (a
/// real wl_data_device client) in the guest and another on sway itself,
/// side by side, and a virtual pointer (headless sway has no input devices)
/// that picks up a flower in one window and drops it in the other. The
/// flower travels as application/x-wayland-dnd-flower over a pipe, which
/// crosses the link as a child stream.
@Suite("Drag and drop through the proxies with sway", .serialized, .tags(.processes))
struct SwayDragAndDropTests {
    enum Direction: String, Sendable, CaseIterable { case guestToHost = "guest→host", hostToGuest = "host→guest" }

    /// Where weston-dnd (Debian 12's, toytoolkit frame included) draws in
    /// its surface: flowers are 64-pixel squares on an 80-pixel grid, the
    /// first grid cell empty, the second holding a flower. Measured by
    /// probing with the pointer; `startDrag` tries the next flower if a
    /// different build lays them out slightly differently.
    private static let flowerCenters = [(138, 69), (298, 69), (58, 149)]
    private static let emptyCellCenter = (58, 69)

    /// sway with a virtual pointer, weston-dnd in the guest (tiled on the
    /// left) and weston-dnd on sway itself (on the right).
    private struct Scene {
        let chain: ProxiedSway
        let pointer: VirtualPointer
        let guestDnd: ManagedProcess
        let hostDnd: ManagedProcess
        let guestWindow: Sway.Window
        let hostWindow: Sway.Window
        let windows: [Sway.Window]
        /// The host proxy's open fds before any client came (with `measureFDs`).
        let hostFDsWithoutClients: Int?

        init(measureFDs: Bool = false) throws {
            chain = try ProxiedSway()
            do {
                hostFDsWithoutClients = measureFDs ? try restingFDCount(chain.host) : nil
                // The seat must have its pointer before the clients start, or they bind no wl_pointer.
                pointer = try VirtualPointer(socketPath: chain.sway.socketPath, extentWidth: chain.sway.width, extentHeight: chain.sway.height)
                let debug = ["WAYLAND_DEBUG": "1"]
                guestDnd = try chain.startGuestClient("weston-dnd", environment: debug)
                _ = try chain.sway.waitForWindow(pid: chain.host.pid)
                hostDnd = try chain.startHostClient("weston-dnd", environment: debug)
                _ = try chain.sway.waitForWindow(pid: hostDnd.pid)
                // Both tiled side by side now; read the final geometry.
                let (chain, hostDnd) = (chain, hostDnd)
                windows = try waitFor("two half-width windows", timeout: 10, poll: 0.1) { () -> [Sway.Window]? in
                    let all = try chain.sway.windows()
                    return all.count == 2 && all.allSatisfy({ $0.width < chain.sway.width * 3 / 4 }) ? all : nil
                }
                guestWindow = try #require(windows.first { $0.pid == chain.host.pid })
                hostWindow = try #require(windows.first { $0.pid == hostDnd.pid })
            } catch {
                chain.stop()
                throw error
            }
        }

        func diagnostics() -> String { "\(windows)\n\(chain.diagnostics())" }

        func stop() {
            pointer.close()
            guestDnd.terminate()
            hostDnd.terminate()
            chain.stop()
        }
    }

    @Test("weston-dnd: a flower dragged from one window is dropped in the other", arguments: Direction.allCases)
    func dragFlower(direction: Direction) throws {
        let scene = try Scene()
        defer { scene.stop() }
        let (chain, pointer, guestWindow, hostWindow) = (scene.chain, scene.pointer, scene.guestWindow, scene.hostWindow)
        let (guestDnd, hostDnd) = (scene.guestDnd, scene.hostDnd)
        let (source, sourceLog, target, targetLog) = direction == .guestToHost
            ? (guestWindow, Log(guestDnd), hostWindow, Log(hostDnd))
            : (hostWindow, Log(hostDnd), guestWindow, Log(guestDnd))
        let context = {
            "source trace:\n\(sourceLog.dataTrace())\ntarget trace:\n\(targetLog.dataTrace())\n\(scene.diagnostics())"
        }

        // Pick up a flower in the source window.
        let flowers = Self.flowerCenters.map { (source.x + $0.0, source.y + $0.1) }
        guard let start = try startDrag(pointer, atFirstOf: flowers, log: sourceLog) else {
            throw SupportError("weston-dnd started no drag at any flower position of \(source)\n\(context())")
        }
        let began = monotonicSeconds()

        // Carry it over to an empty cell of the target window; weston-dnd accepts it there.
        let drop = (target.x + Self.emptyCellCenter.0, target.y + Self.emptyCellCenter.1)
        try pointer.glide(fromX: start.0, fromY: start.1, toX: drop.0, toY: drop.1, steps: 16)
        try waitForAcceptance(at: Self.emptyCellCenter, target: targetLog, source: sourceLog, context: context)
        try pointer.release()

        // The drop: the target receives the flower over a pipe and finishes; the source hears it.
        do {
            _ = try waitFor("wl_data_offer.finish from the target", timeout: 10, poll: 0.05) { () -> Bool? in
                targetLog.count(".receive(\"application/x-wayland-dnd-flower\"") > 0 && targetLog.count("wl_data_offer@", ".finish()") > 0 ? true : nil
            }
            _ = try waitFor("wl_data_source.dnd_finished at the source", timeout: 10, poll: 0.05) { () -> Bool? in
                sourceLog.count("wl_data_source@", ".dnd_finished()") > 0 ? true : nil
            }
        } catch {
            throw SupportError("\(error)\n\(context())")
        }
        let seconds = monotonicSeconds() - began
        #expect(sourceLog.count("wl_data_source@", ".send(\"application/x-wayland-dnd-flower\"") == 1, "\(context())")

        // The flower's bytes arrived whole: the target now has a flower under
        // the drop point, which can be picked up again.
        let pickedUp = try startDrag(pointer, atFirstOf: [drop], log: targetLog) != nil
        try pointer.release()
        #expect(pickedUp, "no flower where it was dropped in the target window\n\(context())")

        // The 12-byte flower message crossed as pipe data from the source's proxy.
        let sender = direction == .guestToHost ? chain.guest : chain.host
        let stats = try sender.waitForStats("the flower's pipe bytes counted", timeout: 5) { $0["pipe_bytes_sent", default: 0] >= 12 }
        #expect(stats["client_errors"] == 0)
        #expect(try (direction == .guestToHost ? chain.host : chain.guest).stats()["client_errors"] == 0, "\(context())")
        print("drag and drop \(direction.rawValue): flower picked up at \(start), dropped at \(drop); pick-up to dnd_finished in \(String(format: "%.2f", seconds)) s including the glide")
    }

    @Test("the guest's drag source is killed over a host window mid-drag: the drag ends, nothing leaks")
    func sourceKilledMidDrag() throws {
        let scene = try Scene(measureFDs: true)
        defer { scene.stop() }
        let (chain, pointer) = (scene.chain, scene.pointer)
        let sourceLog = Log(scene.guestDnd), targetLog = Log(scene.hostDnd)
        let restingHost = try #require(scene.hostFDsWithoutClients)

        let flowers = Self.flowerCenters.map { (scene.guestWindow.x + $0.0, scene.guestWindow.y + $0.1) }
        guard let start = try startDrag(pointer, atFirstOf: flowers, log: sourceLog) else {
            throw SupportError("weston-dnd started no drag\n\(scene.diagnostics())")
        }
        let over = (scene.hostWindow.x + Self.emptyCellCenter.0, scene.hostWindow.y + Self.emptyCellCenter.1)
        try pointer.glide(fromX: start.0, fromY: start.1, toX: over.0, toY: over.1, steps: 16)
        try waitForAcceptance(at: Self.emptyCellCenter, target: targetLog, source: sourceLog, context: scene.diagnostics)

        // The source vanishes while its offer is on the host; sway ends the drag.
        scene.guestDnd.kill()
        _ = try waitFor("the drag to leave the host window", timeout: 10, poll: 0.05) { () -> Bool? in
            targetLog.count("wl_data_device@", ".leave()") > 0 ? true : nil
        }
        try pointer.release()
        #expect(targetLog.count(".receive(") == 0, "a drop happened after the source was gone\n\(scene.diagnostics())")
        #expect(chain.sway.isRunning && chain.host.isRunning && chain.guest.isRunning)

        // Its channel is gone on both proxies and nothing of it stays open on the host.
        let hostFDs = try chain.host.waitForFDs(backTo: restingHost)
        print("drag source killed mid-drag: host proxy fds \(restingHost) before any client, \(hostFDs) after")
        #expect(try chain.host.stats()["client_errors"] == 0, "\(scene.diagnostics())")
        #expect(try chain.guest.stats()["client_errors"] == 0)

        // The link still carries new clients: a new guest window maps.
        let again = try chain.startGuestClient("weston-dnd")
        defer { again.terminate() }
        _ = try waitFor("a new guest window", timeout: 10, poll: 0.1) { () -> Bool? in
            try chain.sway.windows().count == 2 ? true : nil
        }
    }

    /// Waits until the target has seen the pointer at `cell` (surface
    /// coordinates) and accepted the flower there, and the source has been
    /// told so by sway after that accept (WAYLAND_DEBUG timestamps come from
    /// one clock); the state must then hold for 200 ms. Only then does a
    /// release drop: wlroots cancels a drag whose source was last told
    /// "nothing accepted", and the target's accepts cross two proxies.
    private func waitForAcceptance(at cell: (Int, Int), target: Log, source: Log, context: () -> String) throws {
        let position = "\(cell.0).00000000, \(cell.1).00000000)"
        let flower = "\"application/x-wayland-dnd-flower\""
        func accepted() -> Bool {
            guard target.last("wl_data_device@", ".motion(")?.contains(position) == true,
                  let accept = target.last("wl_data_offer@", ".accept("), accept.contains(flower),
                  let told = source.last("wl_data_source@", ".target("), told.contains(flower),
                  let acceptTime = Log.timestamp(accept), let toldTime = Log.timestamp(told)
            else { return false }
            return toldTime > acceptTime
        }
        do {
            _ = try waitFor("the flower accepted at \(cell) and the source told so", timeout: 10, poll: 0.02) { () -> Bool? in
                guard accepted() else { return nil }
                sleepSeconds(0.2)
                return accepted() ? true : nil
            }
        } catch {
            throw SupportError("\(error)\n\(context())")
        }
    }

    /// Tries each point in turn: moves there, waits until the client saw the
    /// pointer arrive, presses the left button and waits for weston-dnd to
    /// start a drag. Returns the point held, or nil (button released) if no
    /// point started one.
    private func startDrag(_ pointer: VirtualPointer, atFirstOf points: [(Int, Int)], log: Log) throws -> (Int, Int)? {
        for point in points {
            let seen = log.count("wl_pointer@", ".motion(") + log.count("wl_pointer@", ".enter(")
            // Two moves: after a drop, the seat gives pointer focus back only on motion.
            try pointer.move(toX: point.0 - 4, y: point.1)
            try pointer.move(toX: point.0, y: point.1)
            _ = try waitFor("weston-dnd to see the pointer", timeout: 5, poll: 0.02) { () -> Bool? in
                log.count("wl_pointer@", ".motion(") + log.count("wl_pointer@", ".enter(") > seen ? true : nil
            }
            let before = log.count(".start_drag(")
            try pointer.press()
            let started = (try? waitFor("start_drag", timeout: 2, poll: 0.02) { () -> Bool? in
                log.count(".start_drag(") > before ? true : nil
            }) != nil
            if started { return point }
            try pointer.release()
        }
        return nil
    }

    /// A client's WAYLAND_DEBUG trace (its stderr), searched line by line.
    private struct Log {
        let process: ManagedProcess
        init(_ process: ManagedProcess) { self.process = process }

        /// The last `n` lines about data devices, offers and sources, for failure messages.
        func dataTrace(_ n: Int = 25) -> String {
            process.stderr.split(separator: "\n").filter { $0.contains("data_") }.suffix(n).joined(separator: "\n")
        }

        /// The last line containing every one of `parts`.
        func last(_ parts: String...) -> Substring? {
            process.stderr.split(separator: "\n").last { line in parts.allSatisfy { line.contains($0) } }
        }

        /// The time WAYLAND_DEBUG printed at the start of `line` ("[ 1234.567] ..."), in ms.
        static func timestamp(_ line: Substring) -> Double? {
            guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]"), open < close else { return nil }
            return Double(line[line.index(after: open)..<close].trimmingCharacters(in: .whitespaces))
        }

        /// Lines containing every one of `parts`.
        func count(_ parts: String...) -> Int {
            process.stderr.split(separator: "\n").lazy.filter { line in parts.allSatisfy { line.contains($0) } }.count
        }
    }
}
