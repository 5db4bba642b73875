import ArgumentParser
import Glibc
import Harness
import PortholeSystem
import Proxy

/// `porthole share`: programs that publish buffers in a guest (docs/buffer-sharing.md).
struct ShareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share",
        abstract: "Publish buffers for programs on the host (run in the guest, next to porthole guest).",
        subcommands: [SharePublishCommand.self]
    )
}

struct SharePublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish one buffer and present frames into it.",
        discussion: """
            Frames come from FILE (raw frames of WIDTH x HEIGHT x 4 bytes, back to back; - reads stdin) or, with \
            --pattern, from a test picture with a moving band (only the band and the stamp change each frame). \
            The first 32 bytes of every frame are a stamp (docs/buffer-sharing.md §6): sequence, the producer's \
            monotonic time and a checksum of the rest, which `porthole buffers watch` checks. Each frame waits for \
            every consumer's release (at most --release-timeout) before the next is drawn.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The producer socket of porthole guest (or of porthole host, --buffers-producer-socket): a name in $XDG_RUNTIME_DIR or an absolute path.", valueName: "PATH"))
    var socket = "porthole-buffers"

    @Option(name: .long, help: ArgumentHelp("The application name consumers subscribe to (1 to 256 bytes, not '*').", valueName: "NAME"))
    var app: String

    @Option(name: .long, help: ArgumentHelp("Picture size in pixels.", valueName: "WxH"), transform: FrameSize.parse)
    var size: FrameSize

    @Option(name: .long, help: ArgumentHelp("Pixel format: \(PixelFormatName.known.joined(separator: ", ")).", valueName: "NAME"),
            transform: PixelFormatName.parse)
    var format = PixelFormatName(name: "XRGB8888")

    @Option(name: .long, help: ArgumentHelp("Frames per second at most (0: as fast as consumers release).", valueName: "N"))
    var fps: Double = 30

    @Option(name: .long, help: ArgumentHelp("Stop after N frames (default: at the end of FILE, never with --pattern).", valueName: "N"))
    var frames: Int?

    @Option(name: .long, help: ArgumentHelp("Wait at most SECONDS for every consumer to release a frame.", valueName: "SECONDS"))
    var releaseTimeout: Double = 5

    @Option(name: .long, help: ArgumentHelp("Another property consumers get (repeatable).", valueName: "NAME=VALUE"), transform: PropertyArgument.parse)
    var property: [PropertyArgument] = []

    @Flag(name: .long, help: "Draw the test pattern instead of reading frames.")
    var pattern = false

    @Flag(name: .long, help: "Allocate the buffer in the guest's shared region (zero copy; the link must have a region). The producer then sees the whole region, every buffer this guest keeps there.")
    var region = false

    @Flag(name: .long, help: "Allocate the buffer in the sharing region this guest maps with others (porthole guest --shared-region): a guest it is granted to that maps the region too reads it in place, with no copy.")
    var shared = false

    @Option(name: .long, help: ArgumentHelp("Grant the buffer to the guest the host calls GUEST (its consumers import it by the handle printed on stdout, 'handle HEX'); repeatable.", valueName: "GUEST"))
    var grant: [String] = []

    @Flag(name: .long, help: "Export the buffer for the host's consumers and print the handle on stdout ('handle HEX').")
    var export = false

    @Argument(help: ArgumentHelp("Raw frames to publish, or - for stdin.", valueName: "FILE"))
    var file: String?

    func validate() throws {
        guard pattern != (file != nil) else { throw ValidationError("give exactly one of --pattern or FILE") }
        guard !app.isEmpty, app.utf8.count <= 256, app != "*" else { throw ValidationError("--app is 1 to 256 bytes, not '*'") }
        guard fps >= 0, releaseTimeout > 0 else { throw ValidationError("--fps must be 0 or more and --release-timeout more than 0") }
        if let frames, frames < 1 { throw ValidationError("--frames must be at least 1") }
        guard !(region && shared) else { throw ValidationError("give at most one of --region and --shared") }
    }

    func run() throws {
        Log.prefix = "porthole share"
        let path: String
        do { path = try GuestProxy.socketPath(name: socket) } catch { throw ValidationError(error.description) }
        let stride = size.width * PixelFormatName.bytesPerPixel
        let bytes = stride * size.height
        var source: FrameReader?
        if let file { source = try FrameReader(path: file, frameBytes: bytes) }
        let properties = [("width", "\(size.width)"), ("height", "\(size.height)"), ("stride", "\(stride)"), ("format", format.name)]
            + property.map { ($0.name, $0.value) }
        let producer = try BufferProducerClient(socketPath: path, application: app, size: bytes, properties: properties, inRegion: region,
                                                references: export || !grant.isEmpty, inSharingRegion: shared)
        let band = BandPattern(width: size.width, height: size.height)
        if let source {
            guard try source.read(into: producer.pixels) else { throw ValidationError("\(file ?? "-") holds no whole frame of \(bytes) bytes") }
        } else {
            band.paintBackground(producer.pixels)
        }
        FrameStamp.stamp(producer.pixels, size: bytes, sequence: 0)
        try producer.publish()
        for guest in (export ? [nil] : []) + grant.map({ Optional($0) }) {
            say("handle \(ReferenceHandle.text(try producer.reference(grantingTo: guest)))\(guest.map { " for \($0)" } ?? "")")
        }
        let start = MonotonicClock.nanoseconds()
        let period = fps > 0 ? UInt64(1e9 / fps) : 0
        var next = start
        var sequence: UInt32 = 0
        var timeouts = 0
        while frames.map({ Int(sequence) < $0 }) ?? true {
            let drawStart = MonotonicClock.nanoseconds()
            var damage: [(x: Int, y: Int, width: Int, height: Int)]
            if let source {
                guard try source.read(into: producer.pixels) else { break }
                damage = [(0, 0, size.width, size.height)]
            } else {
                damage = band.paintFrame(producer.pixels, sequence + 1).map { ($0.x, $0.y, $0.width, $0.height) }
            }
            sequence += 1
            FrameStamp.stamp(producer.pixels, size: bytes, sequence: sequence)
            let render = UInt32(clamping: (MonotonicClock.nanoseconds() - drawStart) / 1000)
            try producer.present(sequence, damage: damage, renderUsec: render)
            if try !producer.waitReleased(sequence, timeout: .nanoseconds(Int64(releaseTimeout * 1e9))) {
                timeouts += 1
                Log.warning("frame \(sequence) not released within \(releaseTimeout) s")
            }
            if period > 0 {
                next += period
                let now = MonotonicClock.nanoseconds()
                if next > now { usleep(UInt32((next - now) / 1000)) } else { next = now }
            }
        }
        let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        producer.close()
        print("published \(sequence) frames of \(size) \(format) as \(app) in \(String(format: "%.2f", seconds)) s "
              + "(\(String(format: "%.1f", seconds > 0 ? Double(sequence) / seconds : 0)) frames/s); \(timeouts) not released in time")
    }
}
