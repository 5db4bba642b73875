import PortholeSystem
import Wayland

/// A client's wl_shm_pool memory, mapped read-only. Buffers keep it alive
/// after the pool object is destroyed, as the protocol requires.
final class ShmPoolMemory {
    /// The client's fd (kept open to remap on resize and to check the file size).
    let fd: OwnedFD
    /// The mapping of the pool's `size` bytes.
    let mapping: SharedMapping
    /// The size the client declared.
    private(set) var size: Int

    /// Maps `size` bytes of `fd`.
    init(fd: OwnedFD, size: Int) throws(SystemError) {
        self.fd = fd
        self.size = size
        mapping = try SharedMapping(fd: fd, size: size, writable: false)
    }

    /// Remaps after wl_shm_pool.resize (growing only).
    func grow(to newSize: Int) throws(SystemError) {
        try mapping.grow(to: newSize)
        size = newSize
    }
}

/// A wl_buffer carved out of a pool.
final class ShmBufferState {
    let pool: ShmPoolMemory
    let offset: Int
    let width: Int
    let height: Int
    let stride: Int
    let format: UInt32
    /// Set by wl_buffer.destroy, so a pending attach of it is dropped.
    var destroyed = false

    init(pool: ShmPoolMemory, offset: Int, width: Int, height: Int, stride: Int, format: UInt32) {
        self.pool = pool
        self.offset = offset
        self.width = width
        self.height = height
        self.stride = stride
        self.format = format
    }
}

/// A wl_surface's pending (not yet committed) state.
final class SurfaceState {
    /// What the next commit does with the attached buffer.
    enum Attach {
        case unchanged
        case buffer(id: UInt32, ShmBufferState)
        case detach
    }

    var pendingAttach: Attach = .unchanged
    /// wl_surface.frame callbacks requested since the last commit.
    var pendingFrameCallbacks: [UInt32] = []
    /// The app_id set on the surface's xdg_toplevel, if any.
    var appID: String?
}

/// A protocol error to post with wl_display.error before disconnecting.
struct ProtocolFault: Error {
    var objectID: UInt32
    var code: UInt32
    var message: String

    /// wl_display error codes.
    static let invalidObject: UInt32 = 0
    static let invalidMethod: UInt32 = 1
    static let implementation: UInt32 = 3
    /// wl_shm error codes.
    static let invalidFormat: UInt32 = 0
    static let invalidStride: UInt32 = 1
    static let invalidFD: UInt32 = 2
}
