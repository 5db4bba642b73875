import Glibc

/// The machine's DRM devices, as far as a Wayland proxy needs them: whether
/// there is one (a guest whose clients can make dma-bufs), and the device
/// number linux-dmabuf feedback names as the main device.
public enum DRMDevices {
    /// Render nodes first (what clients open to allocate), then primary nodes.
    static let candidates = (128..<136).map { "/dev/dri/renderD\($0)" } + (0..<8).map { "/dev/dri/card\($0)" }

    /// The dev_t of the first DRM node present, or nil when there is none.
    public static func firstDevice() -> UInt64? {
        for path in candidates {
            var st = stat()
            if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR { return UInt64(st.st_rdev) }
        }
        return nil
    }

    /// Whether the machine has a render node (a GPU that could import a dma-buf).
    public static func hasRenderNode() -> Bool {
        candidates.prefix { $0.contains("renderD") }.contains(where: isCharacterDevice)
    }

    /// Whether /dev/udmabuf exists (memfds could be handed on as dma-bufs).
    public static func hasUdmabuf() -> Bool { isCharacterDevice("/dev/udmabuf") }

    static func isCharacterDevice(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR
    }
}
