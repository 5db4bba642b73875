import ArgumentParser
import Harness
import PortholeSystem
import Proxy

/// `porthole buffers`: a consumer of the host's buffer service (docs/buffer-sharing.md).
struct BuffersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "buffers",
        abstract: "Look at the buffers guests publish (run on the host, next to porthole host).",
        subcommands: [BuffersListCommand.self, BuffersWatchCommand.self, BuffersDumpCommand.self]
    )
}

/// Where the consumer socket is and what to subscribe to.
struct ConsumerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The consumer socket of porthole host (or, in a guest, of porthole guest, --buffers-consumer-socket): a name in $XDG_RUNTIME_DIR or an absolute path.", valueName: "PATH"))
    var socket = "porthole-buffers"

    @Option(name: .long, help: ArgumentHelp("Only buffers of this application ('*': every one).", valueName: "NAME"))
    var app = "*"

    @Option(name: .long, help: ArgumentHelp("Only buffers of this guest (the name porthole host gave it).", valueName: "NAME"))
    var guest: String?

    @Option(name: .long, help: ArgumentHelp("Instead of subscribing, import the one buffer of this reference: its handle as 32 hex digits (porthole share publish --grant or --export prints it).", valueName: "HANDLE"), transform: ReferenceHandle.parse)
    var `import`: ReferenceHandle?

    func validate() throws {
        guard !app.isEmpty, app.utf8.count <= 256 else { throw ValidationError("--app is 1 to 256 bytes") }
        if let guest, guest.utf8.count > 64 { throw ValidationError("--guest is at most 64 bytes") }
    }

    /// Connects and subscribes.
    func connect() throws -> BufferConsumerClient {
        Log.prefix = "porthole buffers"
        let path: String
        do { path = try GuestProxy.socketPath(name: socket) } catch { throw ValidationError(error.description) }
        if let handle = `import` { return try BufferConsumerClient(socketPath: path, importing: handle.bytes) }
        return try BufferConsumerClient(socketPath: path, application: app, guest: guest)
    }
}

struct BuffersListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Print the buffers published now, one per line.")

    @OptionGroup var options: ConsumerOptions

    func run() throws {
        let consumer = try options.connect()
        // Properties and done follow buffer_added: one more round trip.
        try consumer.roundtrip()
        for b in consumer.buffers.values.sorted(by: { $0.id < $1.id }) {
            let properties = b.properties.map { "\($0.name)=\(LogText.escaped($0.value, quoted: false))" }.joined(separator: " ")
            print("\(b.id) guest=\(LogText.escaped(b.guest, quoted: false)) app=\(LogText.escaped(b.application, quoted: false)) size=\(b.size) \(properties)")
        }
        consumer.close()
    }
}

struct BuffersDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dump", abstract: "Write a buffer's pixels (XRGB8888 or ARGB8888) to a PNG file.")

    @OptionGroup var options: ConsumerOptions

    @Argument(help: ArgumentHelp("The buffer's id, as `porthole buffers list` prints it.", valueName: "ID"))
    var id: UInt32

    @Argument(help: ArgumentHelp("The PNG file to write.", valueName: "OUT.png"))
    var output: String

    func run() throws {
        let consumer = try options.connect()
        try consumer.roundtrip()
        guard let b = consumer.buffers[id] else { throw ValidationError("no buffer \(id) (see porthole buffers list)") }
        guard let width = b.property("width").flatMap({ Int($0) }), let height = b.property("height").flatMap({ Int($0) }),
              let stride = b.property("stride").flatMap({ Int($0) }), ["XRGB8888", "ARGB8888"].contains(b.property("format") ?? ""),
              width > 0, height > 0, stride >= width * 4, stride * height <= b.size else {
            throw ValidationError("buffer \(id) does not describe XRGB8888 or ARGB8888 pixels that fit it (width, height, stride, format)")
        }
        let png = PNGFile.encode(xrgb: b.bytes, width: width, height: height, stride: stride)
        do { try FileSystem.write(png, to: output) } catch { throw ValidationError("\(error)") }
        print("wrote buffer \(id) (\(width)x\(height) of \(b.guest)/\(b.application)) to \(output)")
        consumer.close()
    }
}
