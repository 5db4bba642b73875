/// A new_id argument without a fixed interface (wl_registry.bind): the wire
/// carries the interface name and version ahead of the id.
public struct UntypedNewID: Hashable, Sendable {
    /// The interface name's bytes as sent (without the NUL); a peer may send
    /// anything here, so it is not assumed to be UTF-8.
    public var interface: [UInt8]
    public var version: UInt32
    public var id: UInt32

    public init(interface: [UInt8], version: UInt32, id: UInt32) {
        self.interface = interface
        self.version = version
        self.id = id
    }

    /// The interface name as text (invalid UTF-8 replaced), for table look-ups.
    public var interfaceName: String { String(decoding: interface, as: UTF8.self) }
}
