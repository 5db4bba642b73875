import Glibc
import Wayland

/// Whether two interfaces describe the same wire protocol.
func sameInterface(_ a: Interface, _ b: Interface) -> Bool {
    a.name == b.name && a.version == b.version && a.requests == b.requests && a.events == b.events
}

/// Every builtin interface, sorted by name so iteration is deterministic.
var builtinInterfaces: [Interface] {
    ProtocolTables.builtin.interfaces.values.sorted { $0.name < $1.name }
}
