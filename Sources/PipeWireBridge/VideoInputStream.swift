import CLibPipeWire
import CPipeWire
import Glibc

/// A PipeWire input stream that takes raw video from one source (a node
/// named by `target.object`, or the one the session manager links) and
/// hands each frame's pixels to `onFrame` while the buffer is held; only
/// the newest of the frames queued at once is handed on.
final class VideoInputStream {
    private(set) var format: ImportFormat?
    private(set) var state = PW_STREAM_STATE_UNCONNECTED
    private(set) var lastError: String?
    /// A frame: its pixels, rows `stride` bytes apart, in `format`.
    var onFrame: ((UnsafeRawPointer, Int, ImportFormat) -> Void)?
    private(set) var refused = 0
    private var sink: OpaquePointer?
    private var events = porthole_pw_sink_events()

    init(core: OpaquePointer, name: String, properties: [(String, String)]) throws(BridgeError) {
        events.state_changed = { user, state, error in
            guard let user else { return }
            let me = Unmanaged<VideoInputStream>.fromOpaque(user).takeUnretainedValue()
            me.state = pw_stream_state(rawValue: state)
            if let error { me.lastError = String(cString: error) }
        }
        events.format_changed = { user, spaFormat, width, height in
            guard let user else { return }
            let me = Unmanaged<VideoInputStream>.fromOpaque(user).takeUnretainedValue()
            me.format = ImportFormat.from(spaFormat: spaFormat, width: width, height: height)
        }
        events.process = { user in
            guard let user else { return }
            Unmanaged<VideoInputStream>.fromOpaque(user).takeUnretainedValue().process()
        }
        let keys = properties.map { strdup($0.0) }
        let values = properties.map { strdup($0.1) }
        defer { keys.forEach { free($0) }; values.forEach { free($0) } }
        let made = keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in
                porthole_pw_sink_new(core, name, k.baseAddress, v.baseAddress, UInt32(properties.count), &events,
                                     Unmanaged.passUnretained(self).toOpaque())
            }
        }
        guard let made else { throw .pipewire("cannot make the stream \(name): \(PipeWireContext.errnoText())") }
        sink = made
        let r = porthole_pw_sink_connect(made, UInt32(SourceFormat.maxSide))
        if r < 0 { throw .pipewire("cannot connect the stream \(name): \(String(cString: strerror(-r)))") }
    }

    /// Dequeues every ready buffer, hands on the newest, queues them back.
    private func process() {
        guard let sink else { return }
        let stream = porthole_pw_sink_stream(sink)
        var newest: UnsafeMutablePointer<pw_buffer>?
        while let b = pw_stream_dequeue_buffer(stream) {
            if let older = newest { pw_stream_queue_buffer(stream, older) }
            newest = b
        }
        guard let b = newest else { return }
        defer { pw_stream_queue_buffer(stream, b) }
        guard let format, let spa = b.pointee.buffer, spa.pointee.n_datas >= 1, let data = spa.pointee.datas,
              let base = data.pointee.data, let chunk = data.pointee.chunk else { refused += 1; return }
        // The source's numbers are checked: the whole image must lie in the mapping.
        let stride = chunk.pointee.stride > 0 ? Int(chunk.pointee.stride) : format.stride
        let offset = Int(chunk.pointee.offset)
        guard stride >= format.stride, chunk.pointee.flags & Int32(SPA_CHUNK_FLAG_CORRUPTED) == 0,
              offset >= 0, offset + stride * (format.height - 1) + format.stride <= Int(data.pointee.maxsize) else {
            refused += 1
            return
        }
        onFrame?(UnsafeRawPointer(base) + offset, stride, format)
    }

    func destroy() {
        guard let sink else { return }
        porthole_pw_sink_destroy(sink)
        self.sink = nil
    }

    deinit { destroy() }
}
