import PortholeSystem
import Wayland

extension WaylandTestClient {
    /// Sends the typed request `request` on `object`.
    func send<T: TypedMessage>(_ request: T, on object: UInt32, fds: [OwnedFD] = []) {
        send(request.encode(objectID: object), fds: fds)
    }

    /// Every event of type `T` received on `object`, in order.
    func events<T: TypedMessage>(_: T.Type, on object: UInt32) -> [T] {
        guard let interface = ProtocolTables.builtin[T.interfaceName], Int(T.opcode) < interface.events.count else { return [] }
        let spec = interface.events[Int(T.opcode)]
        return messages.compactMap { m in
            guard m.objectID == object, m.opcode == T.opcode, let args = m.args(spec) else { return nil }
            return T(args)
        }
    }

    /// wl_display.get_registry as `registry`, then a bind of global 1 as
    /// `interface` (v1 unless asked) with id `id` once the global is announced.
    func bindFirstGlobal(_ interface: String, registry: UInt32 = 2, id: UInt32 = 3, version: UInt32 = 1, pump: (() -> Bool) -> Bool) -> Bool {
        send(WlDisplayGetRegistry(registry: registry), on: Wire.displayID)
        guard pump({ !self.events(WlRegistryGlobal.self, on: registry).isEmpty }) else { return false }
        send(WlRegistryBind(name: 1, id: UntypedNewID(interface: Array(interface.utf8), version: version, id: id)), on: registry)
        return true
    }
}
