import CLibPipeWire
import CPipeWire
import Glibc

/// One connection to a PipeWire daemon: a pw_loop that is never run by a
/// thread of its own, but iterated whenever its fd is readable, so the
/// bridge's EventLoop (one thread) drives both the buffer service and
/// PipeWire. Owns the loop, the context and the core; closes them in order.
final class PipeWireContext {
    let loop: UnsafeMutablePointer<pw_loop>
    private let context: OpaquePointer
    let core: OpaquePointer
    private var watch: OpaquePointer?
    /// Set when the daemon reported an error on the core: the connection
    /// is unusable.
    private(set) var failure: String?

    /// Connects to the daemon `remote` (nil: $PIPEWIRE_REMOTE or
    /// pipewire-0 in $XDG_RUNTIME_DIR). First blocks SIGINT and SIGTERM in
    /// the calling thread: PipeWire starts threads of its own (its data
    /// loop) that inherit this mask, so the signals reach only the loop's
    /// signalfd and the bridge stops cleanly instead of dying in one of them.
    init(remote: String?) throws(BridgeError) {
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        pw_init(nil, nil)
        guard let loop = pw_loop_new(nil) else { throw .pipewire("cannot make a PipeWire loop: \(Self.errnoText())") }
        guard let context = pw_context_new(loop, nil, 0) else {
            pw_loop_destroy(loop)
            throw .pipewire("cannot make a PipeWire context: \(Self.errnoText())")
        }
        var properties: UnsafeMutablePointer<pw_properties>?
        if let remote { properties = pw_properties_new_string("remote.name=\"\(remote)\"") }
        // The loop is ours on this thread from now on.
        porthole_pw_loop_enter(loop)
        guard let core = pw_context_connect(context, properties, 0) else {
            let why = Self.errnoText()
            porthole_pw_loop_leave(loop)
            pw_context_destroy(context)
            pw_loop_destroy(loop)
            throw .pipewire("cannot connect to the PipeWire daemon (\(remote ?? "default")): \(why)")
        }
        self.loop = loop
        self.context = context
        self.core = core
        watch = porthole_pw_core_watch(core, { user, id, res, message in
            guard let user, id == 0 else { return }
            let me = Unmanaged<PipeWireContext>.fromOpaque(user).takeUnretainedValue()
            me.failure = "the PipeWire daemon reported: \(message.map { String(cString: $0) } ?? "an error") (\(String(cString: strerror(-res))))"
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The fd to watch for readability.
    var fileDescriptor: Int32 { porthole_pw_loop_fd(loop) }

    /// Runs whatever the loop has ready, without waiting.
    func iterate() { _ = porthole_pw_loop_iterate(loop, 0) }

    deinit {
        porthole_pw_core_unwatch(watch)
        pw_core_disconnect(core)
        porthole_pw_loop_leave(loop)
        pw_context_destroy(context)
        pw_loop_destroy(loop)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
