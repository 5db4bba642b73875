import PortholeSystem
import Wayland

/// Prints every Wayland message a proxy forwards, with interface, message,
/// argument names and values (`--trace`, or PORTHOLE_TRACE=1): the first
/// thing to look at when an app misbehaves through the proxies. Peer strings
/// are escaped (see `MessageTrace`).
final class MessageTracer {
    init() {}

    /// `from` is "client", "compositor" or "link"; the message goes the other way.
    func trace(_ m: ParsedMessage, from: String, channel: String) {
        let arrow = from == "link" ? "link ->" : "-> link"
        Log.trace("\(channel) \(arrow) \(MessageTrace.describe(objectID: m.sender, interface: m.target.interface, spec: m.spec, args: m.args))")
    }
}
