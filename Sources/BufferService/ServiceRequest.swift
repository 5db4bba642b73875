import PortholeSystem
import Wayland

/// One whole request read by a `ServiceConnection`, checked against the
/// connection's objects, with the fds that came with it.
struct ServiceRequest {
    let objectID: UInt32
    let interface: Interface
    let spec: MessageSpec
    let args: [WireArg]
    let fds: [OwnedFD]

    /// "interface.request", for errors and logs.
    var name: String { "\(interface.name).\(spec.name)" }

    /// The arguments as the typed value `T`; another shape is the sender's error.
    func typed<T: TypedMessage>(_: T.Type) throws(MessageFault) -> T {
        guard let value = T(args) else { throw .invalidMethod(objectID, "\(name): arguments of an unexpected shape") }
        return value
    }
}
