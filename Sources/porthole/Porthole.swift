import ArgumentParser
import BufferService
import Glibc
import Link
import PortholeSystem
import Proxy
import Sharing
import Wayland

@main
struct Porthole: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "porthole",
        abstract: "Show Wayland apps from a virtual machine on the host desktop.",
        discussion: """
            Run `porthole host` next to the host compositor and `porthole guest` inside the VM; \
            one link (unix socket, TCP, vsock or a virtio-serial port) joins them and carries every guest client.
            """,
        subcommands: [HostCommand.self, GuestCommand.self, ShareCommand.self, BuffersCommand.self, PipeWireCommand.self, BenchCommand.self]
    )
}

/// Options both roles share.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Write counters as JSON to FILE every second and at exit.", valueName: "FILE"))
    var stats: String?

    @Flag(name: .long, help: "Log every channel and resource event.")
    var verbose = false

    @Flag(name: .long, help: "Print every Wayland message forwarded (interface, message, argument names and values) and every link frame, like WAYLAND_DEBUG; also on with PORTHOLE_TRACE=1.")
    var trace = false

    @Flag(name: .long, inversion: .prefixedNo, help: "Ask the kernel for 0.1 ms time slices for the proxy's loop (Linux 6.12+), so that a window's commit wakes it ahead of busy programs even while it moves another window's frames (--no-short-slice: the kernel's default).")
    var shortSlice = true

    /// --trace, or PORTHOLE_TRACE=1 in the environment.
    var tracing: Bool { trace || getenv("PORTHOLE_TRACE").map { String(cString: $0) == "1" } == true }

    @Option(name: .customLong("protocol"), help: ArgumentHelp(
        "Also understand the Wayland protocol described in FILE.xml (repeatable; a later definition of an interface wins).",
        valueName: "FILE.xml"))
    var protocolFiles: [String] = []

    /// The built-in protocol tables plus every --protocol file. A file that
    /// cannot be used is logged, naming it, and ends the process (status 1).
    func protocolTables() throws -> ProtocolTables {
        guard !protocolFiles.isEmpty else { return .builtin }
        do {
            let tables = try ProtocolTables.builtin.adding(protocolFiles: protocolFiles)
            Log.info("loaded \(protocolFiles.count) protocol file(s): \(protocolFiles.joined(separator: ", "))")
            return tables
        } catch {
            Log.error("cannot load --protocol \(error)")
            throw ExitCode.failure
        }
    }
}

/// Exactly one of --listen / --connect.
struct LinkOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Wait for the peer on ADDR (unix:PATH, tcp:HOST:PORT or vsock:CID:PORT; CID may be 'any').", valueName: "ADDR"),
            transform: SocketAddress.parse)
    var listen: SocketAddress?

    @Option(name: .long, help: ArgumentHelp("Connect to the peer at ADDR (unix:PATH, tcp:HOST:PORT, vsock:CID:PORT, vsock-mux:VMM_SOCKET:PORT or file:DEVICE).", valueName: "ADDR"),
            transform: SocketAddress.parse)
    var connect: SocketAddress?

    func validate() throws {
        guard (listen == nil) != (connect == nil) else { throw ValidationError("give exactly one of --listen ADDR or --connect ADDR") }
        if let address = listen, !address.canListen {
            switch address {
            case .file:
                throw ValidationError("cannot --listen on \(address): a device is opened, not listened on; use --connect \(address)")
            default:
                throw ValidationError("cannot --listen on \(address): a hybrid-vsock VMM socket is only connected to; the guest listens with vsock:any:PORT")
            }
        }
        if let address = connect, !address.canConnect {
            throw ValidationError("cannot --connect to \(address): CID 'any' is only for --listen; give the peer's CID (the host is 2)")
        }
    }

    /// The peer's address, whichever option gave it (`validate()` has made
    /// sure exactly one did).
    var address: SocketAddress {
        guard let address = listen ?? connect else { preconditionFailure("LinkOptions.validate() lets no command run without an address") }
        return address
    }
    var isListen: Bool { listen != nil }
}

struct HostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Serve guests: join their clients to the host compositor."
    )

    @OptionGroup var link: LinkOptions

    @Option(name: .long, help: ArgumentHelp("Host compositor: a socket name in $XDG_RUNTIME_DIR or an absolute path (default: $WAYLAND_DISPLAY).", valueName: "D"))
    var display: String?

    @Option(name: .long, help: ArgumentHelp(
        "Share memory with guests through FILE (created if absent, e.g. /dev/shm/porthole-region; give QEMU the same file with memory-backend-file,share=on and ivshmem-plain). Guests that map it send no pixels over the link.",
        valueName: "FILE"))
    var region: String?

    @Option(name: .long, help: ArgumentHelp("Size of a new --region file: a power of two from 1M to 1G (default 64M; an existing file keeps its size).", valueName: "BYTES"),
            transform: RegionSizeArgument.parse)
    var regionSize: RegionSizeArgument?

    @Option(name: .long, help: ArgumentHelp("The name this proxy's guests are shown under: window titles read '[NAME] title', logs and stats name it. A second guest connected at once is NAME-2. Default: guest.", valueName: "NAME"),
            transform: GuestName.parse)
    var name: GuestName?

    @Option(name: .long, help: ArgumentHelp("Let guests have these capabilities, which ordinary applications do not need (comma-separated, repeatable): \(Capability.allCases.map(\.rawValue).joined(separator: ", ")). Default: none.", valueName: "LIST"),
            transform: CapabilityList.parse)
    var allow: [CapabilityList] = []

    @Option(name: .long, help: ArgumentHelp("Which way clipboard contents may cross: both, to-guest (host copies reach the guest only), from-guest or none.", valueName: "DIRECTION"))
    var clipboard: ClipboardDirection = .both

    @Flag(name: .long, help: "Show guest window titles as the guest set them, without the '[NAME] ' label.")
    var noTitleLabel = false

    @Option(name: .long, help: ArgumentHelp("Name guests and set their policy by who they are: a JSON file of rules matching each link's peer (uid:N, vsock:CID, tcp:ADDRESS or *); see the README. Replaces --name, --allow, --clipboard and --no-title-label; a guest no rule matches is refused.", valueName: "FILE"))
    var policy: String?

    @Option(name: .long, help: ArgumentHelp("Where programs on this machine receive the buffers guests publish (docs/buffer-sharing.md): a socket name in $XDG_RUNTIME_DIR or an absolute path, mode 0700.", valueName: "PATH"))
    var buffersSocket = "porthole-buffers"

    @Option(name: .long, help: ArgumentHelp("Where programs on this machine publish buffers (the producer protocol, as in a guest): a socket name in $XDG_RUNTIME_DIR or an absolute path, mode 0700. Their buffers reach host consumers, and consumers in guests that --buffers-to-guest names.", valueName: "PATH"))
    var buffersProducerSocket = "porthole-buffer-producers"

    @Option(name: .long, help: ArgumentHelp("Applications this machine's producers publish that consumers in guests may see: APP or APP@GUEST, comma-separated, repeatable ('*' for every application). Default: none; guests still see buffers other guests grant them.", valueName: "LIST"), transform: GuestAccessList.parse)
    var buffersToGuest: [GuestAccessList] = []

    @Option(name: .long, help: ArgumentHelp("A sharing region of several guests: FILE (created if absent, 64M; give each of their VMs the same file behind an ivshmem device) mapped by the guests the host names GUEST,GUEST... (porthole guest --shared-region). Buffers their producers allocate there (share publish --shared) and grant one another are read in place, not copied. Repeatable.", valueName: "FILE:GUESTS"), transform: SharedRegionDeclaration.parse)
    var sharedRegion: [SharedRegionDeclaration] = []

    @Option(name: .long, help: ArgumentHelp("Users whose buffer consumers get a guest's region buffers as the region itself, read-only (zero copy; they can read every buffer of that guest): comma-separated uids, or 'none'. Others get a copy of each buffer. Default: this user.", valueName: "UIDS"), transform: UIDList.parse)
    var buffersRegionConsumers: UIDList?

    @Option(name: .long, help: ArgumentHelp("Most guests (links) served at once; more are turned away with a reason. Default: 16.", valueName: "N"))
    var maxGuests: Int?

    @Option(name: .long, help: ArgumentHelp("File descriptors one guest may make the host hold: compositor connections, shared-memory files, pipes. Default: 2048.", valueName: "N"))
    var guestFds: Int?

    @Option(name: .long, help: ArgumentHelp("Shared memory one guest may make the host hold (its clients' pools). Default: 2G.", valueName: "BYTES"),
            transform: ByteCountArgument.parse)
    var guestMemory: ByteCountArgument?

    @Option(name: .long, help: ArgumentHelp("Shared memory all guests together may make the host hold. Default: half the machine's memory.", valueName: "BYTES"),
            transform: ByteCountArgument.parse)
    var totalGuestMemory: ByteCountArgument?

    @Option(name: .long, help: ArgumentHelp("Wayland objects one guest may have alive on all its clients together. Default: 65536.", valueName: "N"))
    var guestObjects: Int?

    @Option(name: .long, help: ArgumentHelp("Threads that receive guests' long pixel updates straight into place, shared by all guests, so the loop stays free for every window's small messages (0: the loop receives everything). Default: 2.", valueName: "N"))
    var receiveThreads = 2

    @Flag(name: .long, inversion: .prefixedNo, help: "Let each guest open a bulk lane: a second connection its windows that send megabytes move to, so another window's commit is not behind their bytes (--no-bulk-lane: one connection per guest).")
    var bulkLane = true

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if policy != nil && (name != nil || !allow.isEmpty || clipboard != .both || noTitleLabel) {
            throw ValidationError("--policy replaces --name, --allow, --clipboard and --no-title-label: give one or the other")
        }
        if regionSize != nil && region == nil { throw ValidationError("--region-size needs --region FILE") }
        for (option, value) in [("--max-guests", maxGuests), ("--guest-fds", guestFds), ("--guest-objects", guestObjects)] {
            if let value, value < 1 { throw ValidationError("\(option) must be at least 1") }
        }
        guard (0...64).contains(receiveThreads) else { throw ValidationError("--receive-threads must be from 0 to 64") }
    }

    /// The per-guest quotas the options set, over the defaults.
    var linkLimits: LinkLimits {
        var limits = LinkLimits()
        if let guestFds { limits.maxFds = guestFds }
        if let guestMemory { limits.maxTotalResourceBytes = guestMemory.bytes }
        return limits
    }

    /// The host-wide quotas the options set, over the defaults.
    var hostLimits: HostLimits {
        var limits = HostLimits()
        if let maxGuests { limits.maxGuests = maxGuests }
        if let guestObjects { limits.objectsPerGuest = guestObjects }
        if let totalGuestMemory { limits.totalMemory = totalGuestMemory.bytes }
        return limits
    }

    func run() throws {
        Log.verbose = common.verbose
        Log.prefix = "porthole host"
        let rules = try policy.map { try PolicyFile.load($0).rules } ?? []
        signal(SIGPIPE, SIG_IGN)
        let loop = try EventLoop()
        let proxy: HostProxy
        let tables = try common.protocolTables()
        var shared: SharedRegion?
        if let region {
            do { shared = try SharedRegion.host(path: region, size: regionSize?.bytes) } catch {
                Log.error("cannot use --region: \(error)")
                throw ExitCode.failure
            }
            Log.info("shared region \(region): \(shared!.size) bytes, tag \(shared!.writtenHeader!.tagHex)")
        }
        do {
            proxy = HostProxy(loop: loop, displayPath: try DisplayAddress.resolve(display), tables: tables, limits: linkLimits,
                              hostLimits: hostLimits, region: shared)
        } catch { throw ValidationError(error.description) }
        proxy.trace = common.tracing
        if receiveThreads > 0 { proxy.receiveThreads = ReceiveThreads(loop: loop, count: receiveThreads) }
        proxy.bulkLanes = bulkLane
        Log.info(HostProxy.dmabufPresentation())
        let service = BufferService(loop: loop, tables: tables)
        if let uids = buffersRegionConsumers { service.regionConsumers = uids.uids }
        do { try service.listen(path: try GuestProxy.socketPath(name: buffersSocket)) } catch {
            Log.warning("buffer consumers cannot connect: \(error)")
        }
        do { try service.listenProducers(path: try GuestProxy.socketPath(name: buffersProducerSocket)) } catch {
            Log.warning("this machine's buffer producers cannot connect: \(error)")
        }
        service.guestAccess = buffersToGuest.flatMap(\.rules)
        for declared in sharedRegion {
            do {
                let region = try SharedRegion.host(path: declared.path, size: nil)
                service.commonRegions.append(try CommonRegion(region: region, guests: declared.guests))
                Log.info("sharing region \(declared.path) (\(region.size) bytes) for guests \(declared.guests.sorted().joined(separator: ", "))")
            } catch {
                Log.error("cannot use --shared-region \(declared.path): \(error)")
                throw ExitCode.failure
            }
        }
        proxy.bufferService = service
        proxy.guestName = name?.text ?? "guest"
        proxy.policy = GuestPolicy(allowed: allow.reduce(into: []) { $0.formUnion($1.capabilities) }, clipboard: clipboard,
                                   labelTitles: !noTitleLabel)
        proxy.rules = rules
        service.configuredGuests = proxy.configuredGuestNames
        var exitCode: Int32 = 0
        if link.isListen {
            try proxy.listen(on: link.address)
        } else {
            try proxy.connect(to: link.address)
            proxy.onLinkClosed = { reason in
                Log.info("link closed (\(reason)); exiting")
                loop.stop()
            }
        }
        try runLoop(loop, common: common, statsJSON: proxy.statsJSON) { sig in
            Log.info("signal \(sig): shutting down")
            exitCode = 0
            proxy.shutdown()
            loop.stop()
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

struct GuestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guest",
        abstract: "Offer a Wayland socket in the guest and carry its clients to the host."
    )

    @OptionGroup var link: LinkOptions

    @Option(name: .long, help: ArgumentHelp("Socket name in $XDG_RUNTIME_DIR (or absolute path) that clients use.", valueName: "NAME"))
    var socket = "wayland-porthole"

    @Flag(name: .long, help: "Exit (status 1) when the link ends or cannot be made, instead of getting a new one.")
    var noReconnect = false

    @Option(name: .long, help: ArgumentHelp(
        "Memory shared with the host: FILE (the host's --region file, same machine), 'pci' (the VM's ivshmem device) or 'pci:ADDR' (one device, e.g. pci:0000:00:04.0). Pixels are then written there instead of sent over the link.",
        valueName: "WHERE"), transform: RegionSource.parse)
    var region: RegionSource?

    @Flag(name: .long, help: "If the --region cannot be opened, warn and copy buffers over the link instead of exiting.")
    var regionFallback = false

    @Flag(name: .long, inversion: .prefixedNo, help: "Copy frames over 2 MiB into the --region, and those of a stream window on the bulk lane into its mirror, on a thread of their own, so the proxy's loop stays free for other windows' commits, and fault a stream window's mirror in on another before its first copy (--no-copy-thread: on the loop, 2 MiB a turn).")
    var copyThread = true

    @Flag(name: .long, inversion: .prefixedNo, help: "On a machine with two CPUs or more, a second thread takes a share of a region copy of 8 MiB or more while no other window has drawn within a second, so a lone 4K window's frame is copied by two cores at once (--no-copy-helper: the copy thread alone, leaving the other core to other programs).")
    var copyHelper = true

    @Flag(name: .long, inversion: .prefixedNo, help: "Open a bulk lane when the host offers one (unix and vsock links this guest dials): windows that send megabytes move to a second connection written by a thread of its own, so a video's bytes do not hold another window's commit (--no-bulk-lane: one connection).")
    var bulkLane = true

    @Option(name: .long, help: ArgumentHelp("Where programs in the guest publish buffers for the host (docs/buffer-sharing.md): a socket name in $XDG_RUNTIME_DIR or an absolute path, mode 0700; it appears once the link is up.", valueName: "PATH"))
    var buffersSocket = "porthole-buffers"

    @Option(name: .long, help: ArgumentHelp("Where programs in the guest receive buffers the host lets this guest see (granted by other guests, or published on the host): a socket name in $XDG_RUNTIME_DIR or an absolute path, mode 0700; it appears once the link is up.", valueName: "PATH"))
    var buffersConsumerSocket = "porthole-buffer-consumers"

    @Option(name: .long, help: ArgumentHelp("A sharing region this guest maps with others, declared on the host (porthole host --shared-region): FILE, 'pci' or 'pci:ADDR' as for --region. Producers allocate there with share publish --shared, and buffers other guests place there reach this guest's consumers without a copy.", valueName: "REGION"), transform: RegionSource.parse)
    var sharedRegion: RegionSource?

    @OptionGroup var common: CommonOptions

    @Argument(parsing: .postTerminator, help: ArgumentHelp("Command to run with WAYLAND_DISPLAY set; porthole exits with its status.", valueName: "CMD"))
    var command: [String] = []

    func run() throws {
        Log.verbose = common.verbose
        Log.prefix = "porthole guest"
        signal(SIGPIPE, SIG_IGN)
        let loop = try EventLoop()
        let path: String
        do { path = try GuestProxy.socketPath(name: socket) } catch { throw ValidationError(error.description) }
        var shared: SharedRegion?
        if let region {
            do {
                shared = try region.open()
                Log.info("shared region \(shared!.path): \(shared!.size) bytes")
            } catch {
                guard regionFallback else {
                    Log.error("cannot use --region \(region): \(error)")
                    throw ExitCode.failure
                }
                Log.warning("cannot use --region \(region): \(error); --region-fallback: buffers are copied over the link")
            }
        }
        let proxy = GuestProxy(loop: loop, socketPath: path, tables: try common.protocolTables(), region: shared)
        proxy.reconnect = !noReconnect
        proxy.copyThread = copyThread
        proxy.copyHelper = copyHelper
        proxy.bulkLane = bulkLane
        do {
            proxy.bufferSocketPath = try GuestProxy.socketPath(name: buffersSocket)
            proxy.consumerSocketPath = try GuestProxy.socketPath(name: buffersConsumerSocket)
        } catch { throw ValidationError(error.description) }
        if let sharedRegion {
            do { proxy.commonRegion = try sharedRegion.open() } catch {
                Log.error("cannot use --shared-region \(sharedRegion): \(error)")
                throw ExitCode.failure
            }
        }
        proxy.trace = common.tracing
        var exitCode: Int32 = 0
        var child: ChildProcess?
        proxy.onLinkClosed = { reason in
            Log.error("\(reason); exiting")
            exitCode = 1
            child?.signal(SIGTERM)
            loop.stop()
        }
        let command = self.command
        let socketName = socket
        proxy.onReady = {
            guard !command.isEmpty else { return }
            do {
                child = try ChildProcess(arguments: command, environment: ["WAYLAND_DISPLAY": socketName])
                Log.info("started \(command[0]) (pid \(child!.pid))")
            } catch {
                Log.error("cannot run \(command[0]): \(error)")
                exitCode = 127
                loop.stop()
            }
        }
        if link.isListen { try proxy.listen(on: link.address) } else { try proxy.connect(to: link.address) }
        try loop.onSignals([SIGCHLD]) { _ in
            guard let c = child, let status = c.reap() else { return }
            Log.info("\(command[0]) exited with status \(status)")
            exitCode = status
            loop.stop()
        }
        try runLoop(loop, common: common, statsJSON: proxy.statsJSON) { sig in
            if let c = child {
                c.signal(sig)
            } else {
                Log.info("signal \(sig): shutting down")
                loop.stop()
            }
        }
        // Our own shutdown closes the link; that is not a link failure.
        proxy.onLinkClosed = nil
        proxy.shutdown()
        if let c = child, c.reap() == nil { c.signal(SIGTERM) }
        if let stats = common.stats { ProxyStats.write(proxy.statsJSON(), to: stats) }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

/// Runs the loop on this thread with its short time slice (unless
/// --no-short-slice), the stats timer and SIGINT/SIGTERM handling; writes
/// the stats file one last time when the loop ends.
func runLoop(_ loop: EventLoop, common: CommonOptions, statsJSON: @escaping () -> String, onSignal: @escaping (Int32) -> Void) throws {
    try loop.onSignals([SIGINT, SIGTERM]) { onSignal($0) }
    if common.shortSlice {
        do {
            try ThreadScheduling.requestTimeSlice(nanoseconds: ThreadScheduling.shortestSlice)
            Log.debug("time slice \(ThreadScheduling.requestedTimeSlice) ns")
        } catch { Log.warning("keeping the kernel's time slice: \(error)") }
    }
    let stats = common.stats
    if let stats {
        try loop.addTimer(nanoseconds: 500_000_000) { ProxyStats.write(statsJSON(), to: stats) }
        // Written once everything is set up, so the file's presence means "ready".
        ProxyStats.write(statsJSON(), to: stats)
    }
    loop.run()
    if let stats { ProxyStats.write(statsJSON(), to: stats) }
}
