import PortholeSystem
import Wayland

/// The pattern client's buffers: one memfd-backed wl_shm_pool holding
/// `count` XRGB8888 buffers of the surface size, each either free or held
/// by the compositor (from commit until wl_buffer.release).
final class ShmBufferSet {
    /// wl_shm format code of XRGB8888.
    static let xrgb8888: UInt32 = 1

    /// One wl_buffer in the pool.
    struct Slot {
        var id: UInt32
        var offset: Int
        var busy = false
        /// The frame whose picture the buffer holds (nil: never drawn into).
        /// Kept by `FrameClient`; `fill` does not set it.
        var frame: Int?
    }

    private let memfd: OwnedFD
    private let mapping: SharedMapping
    private let poolID: UInt32
    private(set) var slots: [Slot] = []
    private var lastUsed: Int?
    /// Bytes per row.
    private(set) var stride: Int
    /// Bytes per buffer.
    private(set) var bufferSize: Int
    private let poolSize: Int

    /// Creates the memfd, the pool (sending the fd) and the buffers.
    convenience init(session: ClientSession, shmID: UInt32, width: Int, height: Int, count: Int = 2) throws(HarnessError) {
        let bufferSize = width * 4 * height
        let size = bufferSize * count
        guard size <= Int(Int32.max) else { throw .invalidArgument("\(count) buffers of \(width)x\(height) do not fit a wl_shm pool") }
        let fd = try system("create a \(size)-byte memfd") { () throws(SystemError) in try Memfd.create(name: "porthole-pattern", size: size) }
        // As weston's and libwayland-cursor's allocators do: the file can
        // never shrink under the compositor's (or a proxy's) mapping.
        try system("seal the memfd against shrinking") { () throws(SystemError) in try Memfd.addSeals(fd, [.shrink]) }
        try self.init(session: session, shmID: shmID, width: width, height: height, fd: fd, poolSize: size,
                      offsets: (0..<count).map { $0 * bufferSize })
    }

    /// Buffers at `offsets` of memory someone else allocated (the shared
    /// region of porthole_shared_memory_v1): one pool over `fd`.
    init(session: ClientSession, shmID: UInt32, width: Int, height: Int, fd: OwnedFD, poolSize: Int, offsets: [Int]) throws(HarnessError) {
        let bufferSize = width * 4 * height
        stride = width * 4
        self.bufferSize = bufferSize
        guard poolSize <= Int(Int32.max), offsets.allSatisfy({ $0 >= 0 && $0 + bufferSize <= poolSize }) else {
            throw .invalidArgument("buffers of \(width)x\(height) at \(offsets) do not fit a \(poolSize)-byte pool")
        }
        memfd = fd
        self.poolSize = poolSize
        mapping = try system("map the buffer memory") { () throws(SystemError) in try SharedMapping(fd: fd, size: poolSize) }
        let sent = try system("duplicate the buffer fd") { () throws(SystemError) in try fd.duplicate() }
        poolID = session.newID()
        try session.send(shmID, "create_pool", [.newID(poolID), .fd, .int(Int32(poolSize))], fds: [sent])
        for offset in offsets {
            let id = session.newID()
            try session.send(poolID, "create_buffer", [
                .newID(id), .int(Int32(offset)), .int(Int32(width)), .int(Int32(height)), .int(Int32(stride)), .uint(Self.xrgb8888),
            ])
            slots.append(Slot(id: id, offset: offset))
        }
    }

    /// A free buffer, preferring one other than the buffer used last.
    var freeSlot: Int? {
        let free = slots.indices.filter { !slots[$0].busy }
        return free.first { $0 != lastUsed } ?? free.first
    }

    /// Copies `image` into buffer `slot` and marks it held by the compositor.
    func fill(_ slot: Int, with image: PatternImage) -> UInt32 {
        precondition(!slots[slot].busy, "drawing into a buffer the compositor holds")
        image.copy(into: mapping.base! + slots[slot].offset)
        slots[slot].busy = true
        lastUsed = slot
        return slots[slot].id
    }

    /// The first byte of buffer `slot`, to draw into while it is free.
    func pixels(_ slot: Int) -> UnsafeMutableRawPointer { mapping.base! + slots[slot].offset }

    /// Marks buffer `slot` as holding `frame` and held by the compositor.
    func commit(_ slot: Int, frame: Int) -> UInt32 {
        precondition(!slots[slot].busy, "committing a buffer the compositor holds")
        slots[slot].busy = true
        slots[slot].frame = frame
        lastUsed = slot
        return slots[slot].id
    }

    /// Handles wl_buffer.release; false if `id` is not one of these buffers.
    func release(_ id: UInt32) -> Bool {
        guard let i = slots.firstIndex(where: { $0.id == id }) else { return false }
        slots[i].busy = false
        return true
    }

    /// Destroys the buffers (all must be free) and makes new ones of another
    /// size at `offsets` of the same pool, so that new buffers may lie over
    /// bytes old ones used.
    func replace(session: ClientSession, width: Int, height: Int, offsets: [Int]) throws(HarnessError) {
        precondition(slots.allSatisfy { !$0.busy }, "replacing buffers the compositor holds")
        let newSize = width * 4 * height
        guard offsets.allSatisfy({ $0 >= 0 && $0 + newSize <= poolSize }) else {
            throw .invalidArgument("buffers of \(width)x\(height) at \(offsets) do not fit the \(poolSize)-byte pool")
        }
        for s in slots { try session.send(s.id, "destroy") }
        slots.removeAll()
        lastUsed = nil
        stride = width * 4
        bufferSize = newSize
        for offset in offsets {
            let id = session.newID()
            try session.send(poolID, "create_buffer", [
                .newID(id), .int(Int32(offset)), .int(Int32(width)), .int(Int32(height)), .int(Int32(stride)), .uint(Self.xrgb8888),
            ])
            slots.append(Slot(id: id, offset: offset))
        }
    }

    /// Destroys the buffers and the pool.
    func destroy(session: ClientSession) throws(HarnessError) {
        for s in slots { try session.send(s.id, "destroy") }
        try session.send(poolID, "destroy")
        slots.removeAll()
    }
}
