import Wayland

/// Ids of objects that live in the guest proxy only (its own globals'
/// objects). Their ids come from the client's sequence, which the compositor
/// checks (new ids must not skip), so each request creating one reaches the
/// compositor as a wl_display.sync with the same id: a placeholder the
/// compositor creates and destroys at once. Its `done` and `delete_id` come
/// back and are dropped; the client's own object lives on in the proxy.
final class PlaceholderIDs {
    /// Placeholders sent and not yet ended by the compositor's delete_id.
    private var open: [UInt32: Int] = [:]

    /// The bytes to send to the host instead of a request creating `id`.
    func make(for id: UInt32) -> [UInt8] {
        open[id, default: 0] += 1
        return WlDisplaySync(callback: id).encode(objectID: Wire.displayID)
    }

    /// An event from the host for a placeholder: dropped unread.
    func contains(_ id: UInt32) -> Bool { open[id] != nil }

    /// A wl_display.delete_id from the host: true if it ends a placeholder (drop it).
    func end(_ id: UInt32) -> Bool {
        guard let n = open[id] else { return false }
        if n <= 1 { open.removeValue(forKey: id) } else { open[id] = n - 1 }
        return true
    }
}
