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

    /// Whether a DRM device is a virtio-gpu that renders with virgl (3D):
    /// the guest's mapping of a buffer it rendered does not hold what the
    /// host GPU drew (docs/gpu-buffers.md), so copies of its dma-bufs would
    /// be stale. Read from sysfs: a virtio device names its type in `device`
    /// (0x0010 is the GPU) and its negotiated feature bits in `features`, one
    /// '0' or '1' a bit from bit 0 (VIRTIO_GPU_F_VIRGL). On PCI, `cardN/device`
    /// is the PCI function and the virtio device its child `virtioK` (seen
    /// in a QEMU guest with virtio-gpu-pci); elsewhere it may be the virtio
    /// device itself.
    public static func hasVirglDevice(sysfs: String = "/sys/class/drm") -> Bool {
        guard let names = DirectoryListing.names(sysfs) else { return false }
        for name in names where name.hasPrefix("card") && !name.contains("-") {
            let parent = "\(sysfs)/\(name)/device"
            let children = (DirectoryListing.names(parent) ?? []).filter { $0.hasPrefix("virtio") }.map { "\(parent)/\($0)" }
            for device in [parent] + children where isVirglGPU(device) { return true }
        }
        return false
    }

    private static func isVirglGPU(_ device: String) -> Bool {
        firstBytes(of: "\(device)/device", count: 6) == Array("0x0010".utf8)
            && firstBytes(of: "\(device)/features", count: 1) == [UInt8(ascii: "1")]
    }

    private static func firstBytes(of path: String, count: Int) -> [UInt8]? {
        guard let fd = try? FileSystem.openForReading(path) else { return nil }
        return try? fd.readContents(count: count)
    }
}
