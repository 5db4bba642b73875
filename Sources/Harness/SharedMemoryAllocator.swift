import PortholeSystem
import Wayland

/// The client side of porthole_shared_memory_v1: asks the guest proxy for
/// buffers in its shared region and builds the wl_shm pool over them.
final class SharedMemoryAllocator {
    private var answers: [UInt32: Result<(fd: OwnedFD, regionSize: Int, offset: Int), HarnessError>] = [:]

    /// Handles the extension's events; returns false for any other event.
    func handle(_ event: ClientEvent) throws(HarnessError) -> Bool {
        switch (event.interface.name, event.spec.name) {
        case ("porthole_shared_buffer_v1", "ready"):
            guard let fd = event.fds.first, case .uint(let size) = event.args[1], case .uint(let offset) = event.args[2] else {
                throw .protocolViolation("porthole_shared_buffer_v1.ready without its fd")
            }
            answers[event.objectID] = .success((fd, Int(size), Int(offset)))
            return true
        case ("porthole_shared_buffer_v1", "failed"):
            var why = "?"
            if case .string(let s?)? = event.args.first { why = String(decoding: s, as: UTF8.self) }
            answers[event.objectID] = .failure(.protocolViolation("shared buffer refused: \(why)"))
            return true
        default:
            return false
        }
    }

    /// Allocates `count` XRGB8888 buffers of `width` x `height` through the
    /// bound allocator `allocatorID`, then one pool over the region.
    func makeBuffers(session: ClientSession, allocatorID: UInt32, shmID: UInt32, width: Int, height: Int, count: Int,
                     timeout: Duration) throws(HarnessError) -> ShmBufferSet {
        var ids: [UInt32] = []
        for _ in 0..<count {
            let id = session.newID()
            try session.send(allocatorID, "allocate", [.newID(id), .int(Int32(width)), .int(Int32(height)), .int(Int32(width * 4)),
                                                       .uint(ShmBufferSet.xrgb8888)])
            ids.append(id)
        }
        try session.dispatch(timeout: timeout, waitingFor: "porthole_shared_memory_v1 answers") { ids.allSatisfy { answers[$0] != nil } }
        var offsets: [Int] = []
        var region: (fd: OwnedFD, size: Int)?
        for id in ids {
            let a = try answers.removeValue(forKey: id)!.get()
            offsets.append(a.offset)
            if region == nil { region = (a.fd, a.regionSize) }
        }
        return try ShmBufferSet(session: session, shmID: shmID, width: width, height: height, fd: region!.fd, poolSize: region!.size, offsets: offsets)
    }
}
