import Foundation

/// What one run of a matrix app showed, directly on sway or through the
/// proxies (MatrixRunner).
struct MatrixRun: Sendable, CustomStringConvertible {
    var side: ProxiedSway.Side
    /// The window once it had settled: size, title, focus.
    var window: Sway.Window
    /// Seconds from starting the app to its window showing on sway.
    var mapSeconds: Double
    var decoration: DecorationNegotiation?
    /// wl_shm pools and dmabuf buffers the app created (its WAYLAND_DEBUG trace).
    var shmPools: Int
    var dmabufBuffers: Int
    /// The globals the app bound.
    var boundInterfaces: Set<String>
    /// wl_keyboard.key events the app received.
    var keyEvents: Int
    /// Distinct colours in a screenshot of the window: a drawn window has many.
    var colors: Int
    /// Whether the typed input had its effect, and what was seen.
    var inputReached: Bool
    var inputDetail: String
    /// The app's logs, for failure messages.
    var logs: String

    var sideName: String { side == .guest ? "through Porthole" : "directly" }

    var description: String {
        "\(sideName): \(window.width)x\(window.height) \"\(window.title ?? "")\" in \(String(format: "%.1f", mapSeconds)) s, "
            + "decorations \(decoration.map(String.init(describing:)) ?? "not negotiated"), "
            + "\(shmPools) wl_shm pools, \(dmabufBuffers) dmabuf buffers, \(colors) colours, "
            + "\(keyEvents) key events, input \(inputReached ? "reached it" : "LOST"): \(inputDetail)"
    }
}
