import Link
import PortholeSystem

/// Something a link resource id stands for on this side of a channel.
enum ChannelResource {
    /// Memory the peer fills (a host-side wl_shm pool, or a read-only file
    /// arriving here): a memfd and our mapping of it.
    case memory(MemoryResource)
    /// Pool memory of a local client, mirrored to the peer (guest side).
    case mirror(ShmPoolMirror)
    /// Guest: a client pool whose host twin is the shared region.
    case regionPool(RegionPool)
    /// Host: the shared region standing in for a pool's fd.
    case region(size: UInt64)
    /// A pipe whose read end we drain toward the peer.
    case pipeSource(PipeSource)
    /// A local pipe write end that receives the peer's pipe data.
    case pipeSink(PipeSink)
}

/// A memfd that link updates write into.
final class MemoryResource {
    let kind: ResourceKind
    let fd: OwnedFD
    /// Our writable mapping; nil once a read-only file is sealed (see fdForMessage).
    private(set) var mapping: SharedMapping?
    var size: UInt64
    var sealed = false

    init(kind: ResourceKind, size: UInt64, name: String) throws(SystemError) {
        self.kind = kind
        self.size = size
        fd = try Memfd.create(name: name, size: Int(size))
        mapping = try SharedMapping(fd: fd, size: Int(size))
    }

    func extend(to newSize: UInt64) throws(SystemError) {
        try Memfd.resize(fd, to: Int(newSize))
        try mapping?.grow(to: Int(newSize))
        size = newSize
    }

    /// The mapping updates are written into (nil once sealed).
    var writableMapping: SharedMapping? { mapping }

    /// Copies `data` into the checked ranges.
    func apply(_ ranges: [UpdateRange], _ data: [UInt8]) -> UInt64 {
        var cursor = 0
        var copied: UInt64 = 0
        data.withUnsafeBytes { src in
            for r in ranges where r.length > 0 {
                mapping!.base!.advanced(by: Int(r.offset)).copyMemory(from: src.baseAddress! + cursor, byteCount: Int(r.length))
                cursor += Int(r.length)
                copied += UInt64(r.length)
            }
        }
        return copied
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

/// The read end of a pipe we created; what the local process writes into its
/// write end is forwarded as pipe data.
final class PipeSource {
    let readEnd: OwnedFD
    /// The write end, until it is passed to the local process.
    var writeEnd: OwnedFD?
    var token: EventLoop.Token?
    var paused = false
    init(readEnd: OwnedFD) { self.readEnd = readEnd }
}

/// A local process's pipe write end; pipe data from the peer is written to it.
final class PipeSink {
    let writeEnd: OwnedFD
    var queue: [UInt8] = []
    var token: EventLoop.Token?
    var closeWhenDrained = false
    init(writeEnd: OwnedFD) { self.writeEnd = writeEnd }
}
