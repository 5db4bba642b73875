import Wayland

/// A client of a Porthole buffer-service socket (producer or consumer): a
/// `ClientSession` whose registry shows one global, bound at once. Events
/// other than the registry's go to `onEvent`.
final class ServiceClient {
    let session: ClientSession
    /// The bound global's id.
    private(set) var globalID: UInt32 = 0
    var onEvent: ((ClientEvent) throws(HarnessError) -> Void)?
    private var announced: [String: UInt32] = [:]

    /// Connects to `socketPath` and binds `interface` at `version`.
    init(socketPath: String, interface: String, version: UInt32 = 1, timeout: Duration) throws(HarnessError) {
        session = try ClientSession(socketPath: socketPath)
        session.eventHandler = { [unowned self] (event: ClientEvent) throws(HarnessError) in
            if event.interface.name == "wl_registry" {
                if event.spec.name == "global", case .uint(let name) = event.args[0], case .string(let iface?) = event.args[1] {
                    announced[String(decoding: iface, as: UTF8.self)] = name
                }
                return
            }
            try onEvent?(event)
        }
        let registry = session.newID()
        try session.send(Wire.displayID, "get_registry", [.newID(registry)])
        try roundtrip(timeout: timeout)
        guard let name = announced[interface] else { throw .missingGlobal(interface) }
        globalID = session.newID()
        try session.send(registry, "bind", [.uint(name), .untypedNewID(interface: Array(interface.utf8), version: version, id: globalID)])
    }

    /// wl_display.sync, handling events until it is done.
    func roundtrip(timeout: Duration) throws(HarnessError) {
        let callback = try session.requestCallback(on: Wire.displayID, "sync")
        try session.dispatch(timeout: timeout, waitingFor: "a roundtrip") { session.isDone(callback: callback) }
    }

    deinit { session.close() }
}
