import ArgumentParser
import PipeWireBridge
import PortholeSystem
import Proxy

struct PipeWireImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Publish a PipeWire video node's frames as a buffer producer (run on the host, next to porthole host).",
        discussion: """
            Takes raw BGRx, BGRA, RGBx or RGBA frames from --target (a node name or serial) or, with --any, from \
            whichever Video/Source the session manager links, and publishes them through porthole host's producer \
            socket as one buffer of --app (XRGB8888, ARGB8888, XBGR8888 or ABGR8888, width, height and stride as \
            properties); porthole host --buffers-to-guest APP@GUEST lets a guest's consumers see it. Each frame is \
            presented with the frame count as sequence and the whole image as damage, then waited for until every \
            consumer released it (frames arriving meanwhile are skipped). A new format or size registers a new \
            buffer. Exits 1 when the service or PipeWire goes away; SIGINT or SIGTERM end it with a summary.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The PipeWire node to take frames from (node.name or object.serial).", valueName: "NODE"))
    var target: String?

    @Flag(name: .long, help: "Take frames from whichever Video/Source the session manager links.")
    var any = false

    @Option(name: .long, help: ArgumentHelp("The application name the frames are published under (1 to 256 bytes, not '*').", valueName: "NAME"))
    var app: String

    @Option(name: .long, help: ArgumentHelp("The producer socket of porthole host: a name in $XDG_RUNTIME_DIR or an absolute path.", valueName: "PATH"))
    var buffersProducerSocket = "porthole-buffer-producers"

    @Option(name: .long, help: ArgumentHelp("The PipeWire daemon to connect to (default: $PIPEWIRE_REMOTE or pipewire-0).", valueName: "NAME"))
    var remote: String?

    @Option(name: .long, help: ArgumentHelp("Wait at most SECONDS for every consumer to release a frame.", valueName: "SECONDS"))
    var releaseTimeout: Double = 5

    func validate() throws {
        guard (target == nil) != !any else { throw ValidationError("give exactly one of --target NODE and --any") }
        if let target, target.isEmpty || target.utf8.count > 256 { throw ValidationError("--target is 1 to 256 bytes") }
        guard !app.isEmpty, app.utf8.count <= 256, app != "*" else { throw ValidationError("--app is 1 to 256 bytes, not '*'") }
        guard releaseTimeout > 0 else { throw ValidationError("--release-timeout must be more than 0") }
        if let remote, remote.isEmpty || remote.utf8.count > 256 || remote.contains("\"") {
            throw ValidationError("--remote is 1 to 256 bytes without '\"'")
        }
    }

    func run() throws {
        Log.prefix = "porthole pipewire"
        let path: String
        do { path = try GuestProxy.socketPath(name: buffersProducerSocket) } catch { throw ValidationError(error.description) }
        var options = PipeWireImporter.Options(socketPath: path, application: app, target: target, remote: remote)
        options.releaseTimeout = .nanoseconds(Int64(releaseTimeout * 1e9))
        let importer: PipeWireImporter
        do { importer = try PipeWireImporter(options: options, report: say) } catch {
            Log.error("\(error)")
            throw ExitCode.failure
        }
        do { try importer.run() } catch {
            Log.error("\(error)")
            say("imported " + importer.summary)
            throw ExitCode.failure
        }
        say("imported " + importer.summary)
    }
}
