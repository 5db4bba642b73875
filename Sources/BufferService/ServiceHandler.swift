import Wayland

/// The protocol-specific half of a `ServiceConnection`: the producer or the
/// consumer side of the buffer service. The connection answers the core
/// requests (sync, registry, bind) and hands over the rest.
protocol ServiceHandler: AnyObject {
    /// The client bound the connection's one global as object `id`.
    func bound(_ id: UInt32, on c: ServiceConnection) throws(MessageFault)
    /// A request to one of the handler's objects, already checked against
    /// the signature. Throwing closes the connection with the fault.
    func request(_ r: ServiceRequest, on c: ServiceConnection) throws(MessageFault)
    /// The connection closed: its peer left, or a fault closed it.
    func closed(on c: ServiceConnection)
}
