/// What changed in a guest's buffer registry, for whoever shows the
/// registered buffers elsewhere (the host's buffer service lists them as
/// application "wayland-proxy").
public enum RegistryChange: Sendable {
    case registered(RegisteredBuffer)
    case unregistered(id: UInt32)
    /// Every buffer is gone: the guest reset its registry, or its link ended.
    case reset
}
