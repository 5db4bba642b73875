import Wayland

/// A pointer for a compositor that has no input devices (headless sway):
/// a Wayland client of zwlr_virtual_pointer_v1 that moves to absolute
/// positions and presses buttons on the compositor's first seat.
///
/// Every call sends its events, ends them with a `frame` and waits for a
/// wl_display.sync roundtrip, so the compositor has handled them when the
/// call returns (its clients may still be reacting). Timestamps grow by
/// 10 ms per event. All calls block; use it from one thread at a time.
public final class VirtualPointer: @unchecked Sendable {
    /// Linux input button codes (linux/input-event-codes.h).
    public enum Button: UInt32, Sendable {
        case left = 0x110
        case right = 0x111
        case middle = 0x112
    }

    /// The width of the space absolute positions are given in (the output layout's width).
    public let extentWidth: Int
    /// The height of that space.
    public let extentHeight: Int
    private let session: ClientSession
    private let timeout: Duration
    private var pointerID: UInt32 = 0
    private var time: UInt32 = 0
    private var globals: [(name: UInt32, interface: String, version: UInt32)] = []

    /// Connects to the Wayland socket at `socketPath` (absolute) and adds a
    /// virtual pointer to the compositor's first seat. Absolute positions
    /// are pixels of an `extentWidth` x `extentHeight` layout.
    public init(socketPath: String, extentWidth: Int, extentHeight: Int, timeout: Duration = .seconds(10)) throws(HarnessError) {
        guard extentWidth > 0, extentHeight > 0 else { throw .invalidArgument("extent \(extentWidth)x\(extentHeight)") }
        self.extentWidth = extentWidth
        self.extentHeight = extentHeight
        self.timeout = timeout
        session = try ClientSession(socketPath: socketPath)
        session.eventHandler = { [unowned self] (event: ClientEvent) throws(HarnessError) in
            guard event.interface.name == "wl_registry", event.spec.name == "global",
                  case .uint(let name) = event.args[0], case .string(let iface?) = event.args[1], case .uint(let version) = event.args[2]
            else { return }
            self.globals.append((name, String(decoding: iface, as: UTF8.self), version))
        }
        let registry = session.newID()
        try session.send(Wire.displayID, "get_registry", [.newID(registry)])
        try roundtrip()
        let seat = try bind("wl_seat", registry: registry)
        let manager = try bind("zwlr_virtual_pointer_manager_v1", registry: registry)
        pointerID = session.newID()
        try session.send(manager, "create_virtual_pointer", [.object(seat), .newID(pointerID)])
        try roundtrip()
    }

    deinit { session.close() }

    /// Moves the pointer to (`x`, `y`) in layout pixels.
    public func move(toX x: Int, y: Int) throws(HarnessError) {
        guard (0..<extentWidth).contains(x), (0..<extentHeight).contains(y) else {
            throw .invalidArgument("position (\(x), \(y)) outside \(extentWidth)x\(extentHeight)")
        }
        try send("motion_absolute", [.uint(tick()), .uint(UInt32(x)), .uint(UInt32(y)), .uint(UInt32(extentWidth)), .uint(UInt32(extentHeight))])
    }

    /// Moves from (`fromX`, `fromY`) to (`toX`, `toY`) in `steps` equal
    /// steps, as a hand would: drag-and-drop targets see motion on the way.
    public func glide(fromX: Int, fromY: Int, toX: Int, toY: Int, steps: Int = 10) throws(HarnessError) {
        let n = max(1, steps)
        for i in 1...n {
            try move(toX: fromX + (toX - fromX) * i / n, y: fromY + (toY - fromY) * i / n)
        }
    }

    /// Presses `button`.
    public func press(_ button: Button = .left) throws(HarnessError) {
        try send("button", [.uint(tick()), .uint(button.rawValue), .uint(1)])
    }

    /// Releases `button`.
    public func release(_ button: Button = .left) throws(HarnessError) {
        try send("button", [.uint(tick()), .uint(button.rawValue), .uint(0)])
    }

    /// Presses and releases `button` at the current position.
    public func click(_ button: Button = .left) throws(HarnessError) {
        try press(button)
        try release(button)
    }

    /// A double click that starts afresh: the events' clock first moves on a
    /// second, so that to a client counting clicks by the events' time, a
    /// double click repeated in a retry loop is never the third and fourth
    /// clicks of one (which select a line, not a word). The four button
    /// events go out together, with one roundtrip after them: a client that
    /// counts clicks by when they reach it (foot: within 300 ms of its own
    /// clock) must get them close together even when a busy machine makes
    /// each roundtrip through the proxies slow.
    public func doubleClick(_ button: Button = .left) throws(HarnessError) {
        time &+= 1000
        for pressed: UInt32 in [1, 0, 1, 0] {
            try queue("button", [.uint(tick()), .uint(button.rawValue), .uint(pressed)])
        }
        try roundtrip()
    }

    /// Removes the pointer from the seat and disconnects.
    public func close() {
        if pointerID != 0 { try? session.send(pointerID, "destroy") }
        pointerID = 0
        try? session.dispatchPending(timeout: .seconds(1))
        session.close()
    }

    private func send(_ request: String, _ args: [WireArg]) throws(HarnessError) {
        try queue(request, args)
        try roundtrip()
    }

    /// Sends one event and its frame, without waiting for the compositor.
    private func queue(_ request: String, _ args: [WireArg]) throws(HarnessError) {
        guard pointerID != 0 else { throw .disconnected("the virtual pointer was closed") }
        try session.send(pointerID, request, args)
        try session.send(pointerID, "frame")
    }

    private func tick() -> UInt32 {
        time &+= 10
        return time
    }

    private func bind(_ interface: String, registry: UInt32) throws(HarnessError) -> UInt32 {
        guard let global = globals.first(where: { $0.interface == interface }) else { throw .missingGlobal(interface) }
        let id = session.newID()
        try session.send(registry, "bind", [.uint(global.name), .untypedNewID(interface: Array(interface.utf8), version: 1, id: id)])
        return id
    }

    private func roundtrip() throws(HarnessError) {
        let callback = try session.requestCallback(on: Wire.displayID, "sync")
        try session.dispatch(timeout: timeout, waitingFor: "a wl_display.sync roundtrip") { session.isDone(callback: callback) }
    }
}
