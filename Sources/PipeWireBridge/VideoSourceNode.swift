import CLibPipeWire
import CPipeWire
import Glibc
import PortholeSystem

/// One PipeWire `Video/Source` node: a driving output pw_stream that offers
/// exactly one format, and into whose buffers the bridge copies a guest
/// buffer's frames. A node outlives the buffer behind it (see
/// `PipeWireExporter`): it is idle between buffers, and renegotiates when
/// the next buffer has another format.
final class VideoSourceNode {
    let name: String
    /// The format offered now.
    private(set) var offered: SourceFormat
    /// What a consumer fixed (nil: no consumer, or being renegotiated).
    private(set) var negotiated: (spaFormat: UInt32, width: Int, height: Int, stride: Int)?
    private(set) var state = PW_STREAM_STATE_UNCONNECTED
    private(set) var lastError: String?
    private var source: OpaquePointer?
    private var events = porthole_pw_source_events()

    /// Why a frame was not handed to PipeWire.
    enum PushOutcome: Equatable {
        case queued
        /// No consumer is streaming, or the format is being renegotiated.
        case notStreaming
        /// Every PipeWire buffer is held by consumers: the frame is dropped.
        case noBuffer
    }

    /// Creates the node and offers `format`. `properties` become the
    /// node's (node.name, media.class and the porthole.* ones).
    init(core: OpaquePointer, name: String, properties: [(String, String)], format: SourceFormat, maxDamage: Int) throws(BridgeError) {
        self.name = name
        offered = format
        events.state_changed = { user, state, error in
            guard let user else { return }
            let me = Unmanaged<VideoSourceNode>.fromOpaque(user).takeUnretainedValue()
            me.state = pw_stream_state(rawValue: state)
            if let error { me.lastError = String(cString: error) }
        }
        events.format_changed = { user, spaFormat, width, height, stride in
            guard let user else { return }
            let me = Unmanaged<VideoSourceNode>.fromOpaque(user).takeUnretainedValue()
            me.negotiated = width == 0 ? nil : (spaFormat, Int(width), Int(height), Int(stride))
        }
        let keys = properties.map { strdup($0.0) }
        let values = properties.map { strdup($0.1) }
        defer { keys.forEach { free($0) }; values.forEach { free($0) } }
        let made = keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in
                porthole_pw_source_new(core, name, k.baseAddress, v.baseAddress, UInt32(properties.count), &events,
                                       Unmanaged.passUnretained(self).toOpaque())
            }
        }
        guard let made else { throw .pipewire("cannot make the stream \(name): \(PipeWireContext.errnoText())") }
        source = made
        try offer(format, maxDamage: maxDamage)
    }

    /// Offers `format` (connecting the first time, renegotiating after).
    func offer(_ format: SourceFormat, maxDamage: Int) throws(BridgeError) {
        guard let source else { return }
        offered = format
        negotiated = nil
        let r = porthole_pw_source_offer(source, format.pixel.spaFormat, UInt32(format.width), UInt32(format.height),
                                         Int32(format.rowBytes), UInt32(maxDamage))
        if r < 0 { throw .pipewire("cannot offer \(format) on \(name): \(String(cString: strerror(-r)))") }
    }

    /// Sets `porthole.buffer`, the buffer service's id of the buffer shown
    /// now (the node's name stays: it outlives its buffers).
    func showBuffer(_ id: UInt32) {
        guard let source else { return }
        "porthole.buffer".withCString { key in
            "\(id)".withCString { value in
                // The dictionary points at the item: both must live for the
                // whole call (an `&item` argument would be valid only
                // while the dictionary is made).
                var item = spa_dict_item(key: key, value: value)
                withUnsafePointer(to: &item) { items in
                    var dict = spa_dict(flags: 0, n_items: 1, items: items)
                    _ = pw_stream_update_properties(porthole_pw_source_stream(source), &dict)
                }
            }
        }
    }

    /// The node's id in the PipeWire graph (after the daemon has answered).
    var nodeID: UInt32 {
        guard let source else { return UInt32.max }
        return pw_stream_get_node_id(porthole_pw_source_stream(source))
    }

    /// Whether a consumer streams the format offered now.
    var streaming: Bool {
        guard state == PW_STREAM_STATE_STREAMING, let n = negotiated else { return false }
        return n.spaFormat == offered.pixel.spaFormat && n.width == offered.width && n.height == offered.height
    }

    /// Copies the frame at `pixels` (laid out as `offered` says) into the
    /// next free PipeWire buffer with its sequence, time and damage
    /// (x, y, width, height quadruples; empty: everything), queues it and
    /// starts a graph cycle.
    func push(_ pixels: UnsafeRawPointer, sequence: UInt32, damage: [Int32], time: UInt64) -> PushOutcome {
        guard streaming, let source, let negotiated else { return .notStreaming }
        let stream = porthole_pw_source_stream(source)
        guard let b = pw_stream_dequeue_buffer(stream) else { return .noBuffer }
        let spa = b.pointee.buffer!
        let format = offered
        let stride = negotiated.stride
        guard spa.pointee.n_datas >= 1, let data = spa.pointee.datas, let base = data.pointee.data, let chunk = data.pointee.chunk,
              stride >= format.rowBytes, Int(data.pointee.maxsize) >= stride * format.height else {
            // Not what this node asked for: hand it back marked as holding nothing.
            if spa.pointee.n_datas >= 1, let chunk = spa.pointee.datas?.pointee.chunk {
                chunk.pointee.size = 0
                chunk.pointee.flags = Int32(SPA_CHUNK_FLAG_CORRUPTED)
            }
            pw_stream_queue_buffer(stream, b)
            return .noBuffer
        }
        if stride == format.stride {
            memcpy(base, pixels, stride * (format.height - 1) + format.rowBytes)
        } else {
            for row in 0..<format.height { memcpy(base + row * stride, pixels + row * format.stride, format.rowBytes) }
        }
        chunk.pointee.offset = 0
        chunk.pointee.size = UInt32(stride * format.height)
        chunk.pointee.stride = Int32(stride)
        chunk.pointee.flags = 0
        if let header = porthole_pw_buffer_header(spa) {
            header.pointee.flags = 0
            header.pointee.offset = 0
            header.pointee.pts = Int64(time)
            header.pointee.dts_offset = 0
            header.pointee.seq = UInt64(sequence)
        }
        var capacity: UInt32 = 0
        if let regions = porthole_pw_buffer_damage(spa, &capacity) {
            DamageMeta.write(damage, of: format, to: UnsafeMutableBufferPointer(start: regions, count: Int(capacity)))
        }
        pw_stream_queue_buffer(stream, b)
        // A driving stream starts the graph's cycle itself.
        pw_stream_trigger_process(stream)
        return .queued
    }

    /// Takes the node out of the graph and frees the stream.
    func destroy() {
        guard let source else { return }
        porthole_pw_source_destroy(source)
        self.source = nil
    }

    deinit { destroy() }
}
