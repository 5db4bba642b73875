import PortholeSystem
import Wayland

/// The requests the recording compositor acts on. Anything not listed here
/// has already been decoded and tracked, and is otherwise ignored.
extension CompositorClient {
    func handleRequest(_ id: UInt32, _ interface: String, _ request: String, _ args: [WireArg], _ fds: [OwnedFD]) throws(ProtocolFault) {
        switch (interface, request) {
        case ("wl_display", "sync"):
            completeCallback(newID(args[0]), server.nextSerial())
        case ("wl_display", "get_registry"):
            let registry = newID(args[0])
            for g in server.globals { sendEvent(registry, "global", [.uint(g.name), .text(g.interface), .uint(g.version)]) }
        case ("wl_registry", "bind"):
            if case .untypedNewID(let name, let version, let newID) = args[1] {
                if name == Array("wl_shm".utf8) {
                    sendEvent(newID, "format", [.uint(0)]) // argb8888
                    sendEvent(newID, "format", [.uint(1)]) // xrgb8888
                } else if name == Array("wl_output".utf8) {
                    describeOutput(newID, version: version)
                }
            }
        case ("wl_compositor", "create_surface"):
            surfaces[newID(args[0])] = SurfaceState()
        case ("wl_shm", "create_pool"):
            try createPool(shm: id, newID(args[0]), fd: fds[0], size: int(args[2]))
        case ("wl_shm_pool", "create_buffer"):
            try createBuffer(pool: id, args)
        case ("wl_shm_pool", "resize"):
            try resizePool(id, to: int(args[0]))
        case ("wl_shm_pool", "destroy"):
            pools.removeValue(forKey: id)
        case ("wl_buffer", "destroy"):
            buffers.removeValue(forKey: id)?.destroyed = true
        case ("wl_surface", "attach"):
            try attach(surface: id, buffer: object(args[0]))
        case ("wl_surface", "frame"):
            surfaces[id]?.pendingFrameCallbacks.append(newID(args[0]))
        case ("wl_surface", "commit"):
            try commit(surface: id)
        case ("wl_surface", "destroy"):
            // Uncommitted frame callbacks die with the surface, unfired.
            for callback in surfaces.removeValue(forKey: id)?.pendingFrameCallbacks ?? [] { sendDeleteID(callback) }
        case ("xdg_wm_base", "get_xdg_surface"):
            xdgSurfaces[newID(args[0])] = object(args[1])
        case ("xdg_surface", "get_toplevel"):
            toplevels[newID(args[0])] = id
            sendEvent(newID(args[0]), "configure", [.int(0), .int(0), .array([])])
            sendEvent(id, "configure", [.uint(server.nextSerial())])
        case ("xdg_surface", "destroy"):
            xdgSurfaces.removeValue(forKey: id)
        case ("xdg_toplevel", "set_app_id"):
            if case .string(let bytes?) = args[0], let xdg = toplevels[id], let surface = xdgSurfaces[xdg] {
                surfaces[surface]?.appID = String(decoding: bytes, as: UTF8.self)
            }
        case ("xdg_toplevel", "destroy"):
            toplevels.removeValue(forKey: id)
        default:
            break
        }
    }

    /// The one output: 1920x1080 at 60 Hz, 96 dpi, scale 1.
    private func describeOutput(_ id: UInt32, version: UInt32) {
        sendEvent(id, "geometry", [.int(0), .int(0), .int(508), .int(286), .int(0), .text("porthole"), .text("sink"), .int(0)])
        sendEvent(id, "mode", [.uint(0x3), .int(1920), .int(1080), .int(60_000)])
        if version >= 2 {
            sendEvent(id, "scale", [.int(1)])
            sendEvent(id, "done")
        }
    }

    private func createPool(shm: UInt32, _ poolID: UInt32, fd: OwnedFD, size: Int) throws(ProtocolFault) {
        guard size > 0 else { throw ProtocolFault(objectID: shm, code: ProtocolFault.invalidStride, message: "invalid size (\(size))") }
        do { pools[poolID] = try ShmPoolMemory(fd: fd, size: size) } catch {
            throw ProtocolFault(objectID: shm, code: ProtocolFault.invalidFD, message: "failed mmap fd \(fd.rawValue): \(error)")
        }
    }

    private func resizePool(_ poolID: UInt32, to size: Int) throws(ProtocolFault) {
        guard let pool = pools[poolID] else { return }
        guard size >= pool.size else {
            throw ProtocolFault(objectID: poolID, code: ProtocolFault.invalidStride, message: "shrinking pool invalid")
        }
        do { try pool.grow(to: size) } catch {
            throw ProtocolFault(objectID: poolID, code: ProtocolFault.invalidFD, message: "failed to remap pool to \(size) bytes: \(error)")
        }
    }

    private func createBuffer(pool poolID: UInt32, _ args: [WireArg]) throws(ProtocolFault) {
        let id = newID(args[0])
        let offset = int(args[1]), width = int(args[2]), height = int(args[3]), stride = int(args[4])
        guard case .uint(let format) = args[5], format <= 1 else {
            throw ProtocolFault(objectID: poolID, code: ProtocolFault.invalidFormat, message: "invalid format \(args[5])")
        }
        guard let pool = pools[poolID] else { return }
        guard offset >= 0, width > 0, height > 0, stride >= width * 4, offset + stride * height <= pool.size else {
            throw ProtocolFault(objectID: poolID, code: ProtocolFault.invalidStride,
                                message: "invalid width, height or stride (\(width)x\(height), \(stride)) at offset \(offset) in a \(pool.size)-byte pool")
        }
        buffers[id] = ShmBufferState(pool: pool, offset: offset, width: width, height: height, stride: stride, format: format)
    }

    private func attach(surface: UInt32, buffer: UInt32) throws(ProtocolFault) {
        guard let state = surfaces[surface] else { return }
        if buffer == 0 { state.pendingAttach = .detach; return }
        guard let b = buffers[buffer] else {
            throw ProtocolFault(objectID: surface, code: ProtocolFault.implementation, message: "wl_buffer \(buffer) is not a wl_shm buffer")
        }
        state.pendingAttach = .buffer(id: buffer, b)
    }

    /// Applies a surface's pending state: records the attached buffer's
    /// bytes, releases it (it was copied) now or at the next tick, and
    /// schedules frame callbacks.
    private func commit(surface id: UInt32) throws(ProtocolFault) {
        guard let surface = surfaces[id] else { return }
        if case .buffer(let bufferID, let b) = surface.pendingAttach, !b.destroyed {
            let length = b.stride * b.height
            let fileSize = (try? b.pool.fd.fileSize()) ?? 0
            guard b.offset + length <= fileSize else {
                throw ProtocolFault(objectID: bufferID, code: ProtocolFault.implementation,
                                    message: "buffer ends at byte \(b.offset + length) but the pool's file has \(fileSize)")
            }
            if let inspect = server.deferredInspector {
                let index = server.bufferCommits[number, default: [:]][id, default: 0]
                server.bufferCommits[number, default: [:]][id] = index + 1
                // The buffer and this commit's frame callbacks wait for the ticket.
                let ticket = server.ticket(client: self, bufferID: bufferID, buffer: b, callbacks: surface.pendingFrameCallbacks)
                surface.pendingFrameCallbacks = []
                surface.pendingAttach = .unchanged
                inspect(SinkFrame(client: number, appID: surface.appID, surfaceID: id, index: index, arrival: MonotonicClock.nanoseconds(),
                                  width: b.width, height: b.height, stride: b.stride, format: b.format,
                                  pixels: b.pool.mapping.bytes(at: b.offset, count: length)), ticket)
                return
            } else if let inspect = server.inspector {
                let index = server.bufferCommits[number, default: [:]][id, default: 0]
                server.bufferCommits[number, default: [:]][id] = index + 1
                inspect(SinkFrame(client: number, appID: surface.appID, surfaceID: id, index: index, arrival: MonotonicClock.nanoseconds(),
                                  width: b.width, height: b.height, stride: b.stride, format: b.format,
                                  pixels: b.pool.mapping.bytes(at: b.offset, count: length)))
            } else {
                let bytes = Array(b.pool.mapping.bytes(at: b.offset, count: length))
                server.log.record(RecordedCommit(client: number, surfaceID: id, width: b.width, height: b.height, stride: b.stride, format: b.format, bytes: bytes))
            }
            switch server.bufferRelease {
            case .afterCopy: release(bufferID, b)
            case .onFrameTick: if !dueReleases.contains(where: { $0.buffer === b }) { dueReleases.append((bufferID, b)) }
            }
        }
        surface.pendingAttach = .unchanged
        let callbacks = surface.pendingFrameCallbacks
        surface.pendingFrameCallbacks = []
        dueFrameCallbacks += callbacks
        if server.frameInterval == 0 { fireDueFrameCallbacks() }
    }

    private func newID(_ arg: WireArg) -> UInt32 {
        if case .newID(let v) = arg { return v }
        preconditionFailure("expected a new_id, got \(arg)")
    }

    private func object(_ arg: WireArg) -> UInt32 {
        if case .object(let v) = arg { return v }
        preconditionFailure("expected an object, got \(arg)")
    }

    private func int(_ arg: WireArg) -> Int {
        if case .int(let v) = arg { return Int(v) }
        preconditionFailure("expected an int, got \(arg)")
    }
}
