import ArgumentParser
import PipeWireBridge
import PortholeSystem
import Proxy

/// `porthole pipewire`: guest buffers as PipeWire video nodes on the host, and PipeWire video into guests.
struct PipeWireCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipewire",
        abstract: "Show guest buffers to PipeWire programs (run on the host, next to porthole host).",
        subcommands: [PipeWireExportCommand.self, PipeWireImportCommand.self]
    )
}

struct PipeWireExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Make every buffer of one application a PipeWire Video/Source node.",
        discussion: """
            Each buffer of --app (of --guest, or of every guest) with XRGB8888, ARGB8888, XBGR8888 or ABGR8888 pixels \
            becomes a node named porthole.GUEST.APP.N (format BGRx, BGRA, RGBx or RGBA, its size from the buffer's \
            properties). Each update is \
            copied into the node's next PipeWire buffer with its sequence, time and damage, then released. When a \
            buffer is removed its node stays idle and the next buffer of that guest and application takes it over, \
            renegotiating if its size or format differs; nodes go when their guest disconnects. Link a consumer \
            with a session manager, pw-link, or target.object (gst-launch-1.0 pipewiresrc target-object=NAME). \
            SIGINT or SIGTERM end it with a summary.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The application whose buffers to export (1 to 256 bytes; '*': every one).", valueName: "NAME"))
    var app: String

    @Option(name: .long, help: ArgumentHelp("Only buffers of this guest (the name porthole host gave it).", valueName: "NAME"))
    var guest: String?

    @Option(name: .long, help: ArgumentHelp("The consumer socket of porthole host: a name in $XDG_RUNTIME_DIR or an absolute path.", valueName: "PATH"))
    var buffersSocket = "porthole-buffers"

    @Option(name: .long, help: ArgumentHelp("The PipeWire daemon to connect to (default: $PIPEWIRE_REMOTE or pipewire-0).", valueName: "NAME"))
    var remote: String?

    @Option(name: .long, help: ArgumentHelp("Most nodes at once; further buffers are left out.", valueName: "N"))
    var maxNodes = 16

    func validate() throws {
        guard !app.isEmpty, app.utf8.count <= 256 else { throw ValidationError("--app is 1 to 256 bytes") }
        if let guest, guest.isEmpty || guest.utf8.count > 64 { throw ValidationError("--guest is 1 to 64 bytes") }
        guard (1...256).contains(maxNodes) else { throw ValidationError("--max-nodes is 1 to 256") }
        if let remote, remote.isEmpty || remote.utf8.count > 256 || remote.contains("\"") {
            throw ValidationError("--remote is 1 to 256 bytes without '\"'")
        }
    }

    func run() throws {
        Log.prefix = "porthole pipewire"
        let path: String
        do { path = try GuestProxy.socketPath(name: buffersSocket) } catch { throw ValidationError(error.description) }
        var options = PipeWireExporter.Options(socketPath: path, application: app, guest: guest, remote: remote)
        options.maxNodes = maxNodes
        let exporter: PipeWireExporter
        do { exporter = try PipeWireExporter(options: options, report: say) } catch {
            Log.error("\(error)")
            throw ExitCode.failure
        }
        do { try exporter.run() } catch {
            Log.error("\(error)")
            say("exported " + exporter.counters.line)
            throw ExitCode.failure
        }
        say("exported " + exporter.counters.line)
    }
}
