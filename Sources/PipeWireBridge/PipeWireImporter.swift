import CLibPipeWire
import Glibc
import Harness
import PortholeSystem

/// The other half of the PipeWire bridge (docs/buffer-sharing.md,
/// "PipeWire"): a PipeWire video input stream whose frames are published
/// through the host's producer socket as one buffer of one application, so
/// a guest the host allows (`--buffers-to-guest`) consumes a host camera
/// or any video source. One thread: PipeWire's loop fd and the producer
/// connection are both watched by one `EventLoop`.
///
/// Each frame is copied into the buffer, presented with the frame count as
/// its sequence and the whole image as damage, and waited for (every
/// consumer's release) before the next is copied, so no consumer reads a
/// frame being overwritten; frames PipeWire delivers meanwhile are
/// skipped. A new format or size unregisters the buffer and registers a
/// new one (a new id) with the new properties.
public final class PipeWireImporter {
    public struct Options: Sendable {
        /// The producer socket of porthole host (absolute path).
        public var socketPath: String
        public var application: String
        /// The node to take frames from (a name or serial); nil: whichever
        /// Video/Source the session manager links.
        public var target: String?
        public var remote: String?
        /// Longest wait for the consumers to release a frame.
        public var releaseTimeout: Duration = .seconds(5)

        public init(socketPath: String, application: String, target: String?, remote: String? = nil) {
            self.socketPath = socketPath
            self.application = application
            self.target = target
            self.remote = remote
        }
    }

    public private(set) var frames: UInt32 = 0
    public private(set) var buffersRegistered = 0
    public private(set) var releaseTimeouts = 0
    public private(set) var roundTrips = RoundTripTimes()
    private let options: Options
    private let report: (String) -> Void
    private let pipewire: PipeWireContext
    private var stream: VideoInputStream?
    private var producer: BufferProducerClient?
    private var producerFormat: ImportFormat?
    private var producerWatch: EventLoop.Token?
    private var reportedState = PW_STREAM_STATE_UNCONNECTED
    private var failure: BridgeError?
    private var loop: EventLoop?

    public init(options: Options, report: @escaping (String) -> Void) throws(BridgeError) {
        self.options = options
        self.report = report
        pipewire = try PipeWireContext(remote: options.remote)
        var properties = [
            ("media.type", "Video"),
            ("media.category", "Capture"),
            ("media.role", "Camera"),
            ("node.name", "porthole.import.\(NodeName.word(options.application))"),
            ("node.description", "Porthole: into guests as \(NodeName.word(options.application))"),
        ]
        if let target = options.target { properties.append(("target.object", target)) }
        let stream = try VideoInputStream(core: pipewire.core, name: "porthole-import", properties: properties)
        self.stream = stream
        stream.onFrame = { [unowned self] pixels, stride, format in frame(pixels, stride: stride, format: format) }
    }

    /// Runs until SIGINT or SIGTERM, or until PipeWire or the buffer
    /// service goes away (thrown).
    public func run() throws(BridgeError) {
        let loop: EventLoop
        do {
            loop = try EventLoop()
            _ = try loop.register(pipewire.fileDescriptor, events: .readable) { [unowned self] _ in pipewireReadable() }
            try loop.onSignals([SIGINT, SIGTERM]) { _ in loop.stop() }
        } catch {
            throw .pipewire("cannot set up the event loop: \(error)")
        }
        self.loop = loop
        pipewireReadable()
        if failure == nil { loop.run() }
        self.loop = nil
        stream?.destroy()
        stream = nil
        closeProducer()
        if let failure { throw failure }
    }

    public var summary: String {
        "\(frames) frames in \(buffersRegistered) buffers, \(releaseTimeouts) not released in time, \(stream?.refused ?? 0) refused"
            + roundTrips.text
    }

    private func fail(_ error: BridgeError) {
        if failure == nil { failure = error }
        loop?.stop()
    }

    private func pipewireReadable() {
        pipewire.iterate()
        if let why = pipewire.failure { return fail(.pipewire(why)) }
        guard let stream, stream.state != reportedState else { return }
        reportedState = stream.state
        if stream.state == PW_STREAM_STATE_ERROR {
            fail(.pipewire("the input stream: \(stream.lastError ?? "error")"))
        } else {
            report("stream \(String(cString: pw_stream_state_as_string(stream.state)))\(stream.format.map { " (\($0))" } ?? "")")
        }
    }

    /// The producer connection is readable only when the service went away
    /// (releases are read while waiting for them).
    private func producerReadable() {
        do { try producer?.poll() } catch { fail(.bufferService("the host's buffer service: \(error)")) }
    }

    private func frame(_ pixels: UnsafeRawPointer, stride: Int, format: ImportFormat) {
        guard failure == nil else { return }
        let start = MonotonicClock.nanoseconds()
        do throws(HarnessError) {
            if producerFormat != format {
                closeProducer()
                let p = try BufferProducerClient(socketPath: options.socketPath, application: options.application,
                                                 size: format.bytes, properties: format.properties)
                producer = p
                producerFormat = format
                copy(pixels, stride: stride, format: format, into: p.pixels)
                try p.publish()
                buffersRegistered += 1
                report("buffer \(buffersRegistered) of \(format) published as \(options.application)")
                do {
                    producerWatch = try loop?.register(p.fileDescriptor, events: .readable) { [unowned self] _ in producerReadable() }
                } catch { return fail(.bufferService("cannot watch the producer socket: \(error)")) }
            } else if let p = producer {
                copy(pixels, stride: stride, format: format, into: p.pixels)
            }
            guard let p = producer else { return }
            frames &+= 1
            try p.present(frames, damage: [(0, 0, format.width, format.height)], renderUsec: 0)
            if try p.waitReleased(frames, timeout: options.releaseTimeout) {
                roundTrips.add(nanoseconds: MonotonicClock.nanoseconds() - start)
            } else {
                releaseTimeouts += 1
            }
        } catch {
            fail(.bufferService("the host's buffer service: \(error)"))
        }
    }

    private func copy(_ pixels: UnsafeRawPointer, stride: Int, format: ImportFormat, into target: UnsafeMutableRawPointer) {
        if stride == format.stride {
            memcpy(target, pixels, format.bytes)
        } else {
            for row in 0..<format.height { memcpy(target + row * format.stride, pixels + row * stride, format.stride) }
        }
    }

    private func closeProducer() {
        if let producerWatch { loop?.unregister(producerWatch) }
        producerWatch = nil
        producer?.close()
        producer = nil
        producerFormat = nil
    }
}
