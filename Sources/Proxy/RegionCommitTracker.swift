import Wayland

/// Follows a guest client's commits of wl_buffers in the shared region, so
/// that the buffer service can tell the consumers of "wayland-proxy" each
/// new content (docs/buffer-sharing.md §3.2): which registration each
/// region wl_buffer lies in, what each surface has attached and damaged
/// since its last commit. Damage in buffer pixels: `damage_buffer` as it
/// is, `damage` as it is on a surface with no scale, transform or viewport
/// (where surface and buffer pixels are the same), and otherwise the whole
/// buffer. Everything here comes from the guest and only chooses which
/// buffer's consumers hear of a commit and which rectangles they are told;
/// consumers clip them to the buffer.
struct RegionCommitTracker {
    private struct Surface {
        /// The buffer attached since the last commit (nil: none attached; 0: a null attach).
        var attached: UInt32?
        var damage: [Int32] = []
        var whole = false
        /// Scale, transform or a viewport make surface damage unusable as buffer damage.
        var plain = true
    }

    /// Damage rectangles kept per commit; more count as the whole buffer.
    static let maxRects = 64

    /// Region wl_buffer id -> the registration it lies in.
    private var buffers: [UInt32: UInt32] = [:]
    private var surfaces: [UInt32: Surface] = [:]

    mutating func bufferCreated(_ id: UInt32, registration: UInt32) { buffers[id] = registration }

    /// Follows one request of the client; for a commit of a region buffer,
    /// its registration and damage (empty: the whole buffer).
    mutating func request(_ m: ParsedMessage) throws(MessageFault) -> (registration: UInt32, damage: [Int32])? {
        let s = m.sender
        switch m.spec.kind {
        case .wlSurfaceCommit?:
            return commit(s)
        case .wlBufferDestroy?:
            buffers.removeValue(forKey: s)
        case .wlSurfaceAttach?:
            surfaces[s, default: Surface()].attached = try m.typed(WlSurfaceAttach.self).buffer
        case .wlSurfaceDamageBuffer?:
            let d = try m.typed(WlSurfaceDamageBuffer.self)
            add(s, d.x, d.y, d.width, d.height)
        case .wlSurfaceDamage?:
            let d = try m.typed(WlSurfaceDamage.self)
            if surfaces[s]?.plain ?? true { add(s, d.x, d.y, d.width, d.height) } else { surfaces[s, default: Surface()].whole = true }
        case .wlSurfaceSetBufferScale?:
            if try m.typed(WlSurfaceSetBufferScale.self).scale != 1 { surfaces[s, default: Surface()].plain = false }
        case .wlSurfaceSetBufferTransform?:
            if try m.typed(WlSurfaceSetBufferTransform.self).transform != 0 { surfaces[s, default: Surface()].plain = false }
        case .wpViewporterGetViewport?:
            surfaces[try m.typed(WpViewporterGetViewport.self).surface, default: Surface()].plain = false
        case .wlSurfaceDestroy?:
            surfaces.removeValue(forKey: s)
        default:
            break
        }
        return nil
    }

    /// A commit of `surface`: the registration of the region buffer it
    /// attached, with the damage (empty: the whole buffer); nil when it
    /// attached none, or one not in the region.
    private mutating func commit(_ surface: UInt32) -> (registration: UInt32, damage: [Int32])? {
        guard var state = surfaces[surface] else { return nil }
        defer {
            state.attached = nil
            state.damage.removeAll()
            state.whole = false
            surfaces[surface] = state
        }
        guard let buffer = state.attached, let registration = buffers[buffer] else { return nil }
        return (registration, state.whole ? [] : state.damage)
    }

    private mutating func add(_ surface: UInt32, _ x: Int32, _ y: Int32, _ width: Int32, _ height: Int32) {
        var state = surfaces[surface] ?? Surface()
        guard !state.whole, width > 0, height > 0 else { return }
        if state.damage.count / 4 >= Self.maxRects {
            state.whole = true
            state.damage.removeAll()
        } else {
            state.damage += [x, y, width, height]
        }
        surfaces[surface] = state
    }
}
