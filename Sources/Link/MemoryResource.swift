import PortholeSystem

/// Memory the peer fills through update frames: a memfd standing for a wl_shm
/// pool or a read-only file (keymap) on the receiving side, and our mapping
/// of it.
public final class MemoryResource {
    public let kind: ResourceKind
    let fd: OwnedFD
    /// Our writable mapping; nil once a read-only file is sealed (see `fdForMessage`).
    private(set) var mapping: SharedMapping?
    public private(set) var size: UInt64
    private(set) var sealed = false

    init(kind: ResourceKind, size: UInt64) throws(SystemError) {
        self.kind = kind
        self.size = size
        fd = try Memfd.create(name: kind == .shmPool ? "porthole-pool" : "porthole-file", size: Int(size))
        mapping = try SharedMapping(fd: fd, size: Int(size))
    }

    func extend(to newSize: UInt64) throws(SystemError) {
        try Memfd.resize(fd, to: Int(newSize))
        try mapping?.grow(to: Int(newSize))
        size = newSize
    }

    /// Copies `data` into `ranges`, which the caller checked lie inside.
    func apply(_ ranges: [UpdateRange], _ data: [UInt8]) -> UInt64 {
        guard let base = mapping?.base else { return 0 }
        var cursor = 0
        data.withUnsafeBytes { src in
            for r in ranges where r.length > 0 {
                (base + Int(r.offset)).copyMemory(from: src.baseAddress! + cursor, byteCount: Int(r.length))
                cursor += Int(r.length)
            }
        }
        return UInt64(cursor)
    }

    /// The fd to hand to the local Wayland peer.
    func fdForMessage() throws(SystemError) -> OwnedFD {
        if kind == .readOnlyFile && !sealed {
            // F_SEAL_WRITE fails with EBUSY while any writable shared mapping
            // of the memfd exists (found against sway: every wl_keyboard.keymap
            // failed the channel). The file is complete and takes no more
            // updates, so unmap it before sealing.
            mapping = nil
            try Memfd.addSeals(fd, [.shrink, .grow, .write, .seal])
            sealed = true
        }
        return try fd.duplicate()
    }
}
