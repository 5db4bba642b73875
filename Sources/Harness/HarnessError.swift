import PortholeSystem
import Wayland

/// Everything that can go wrong in the test harness (the pattern client and
/// the recording compositor), with enough context to tell what was happening.
public enum HarnessError: Error, CustomStringConvertible, Sendable {
    /// A system call failed while doing `context`.
    case system(context: String, SystemError)
    /// The peer sent bytes that do not form a valid message.
    case malformedMessage(context: String, WireError)
    /// The server sent wl_display.error: the object it blames (id and
    /// interface), the interface-specific error code and its message.
    case protocolError(objectID: UInt32, interface: String, code: UInt32, message: String)
    /// The peer broke the protocol in a way we noticed ourselves.
    case protocolViolation(String)
    /// The server does not advertise a global the client needs.
    case missingGlobal(String)
    /// The connection closed (or was closed by us) while doing `context`.
    case disconnected(String)
    /// Waiting for something took longer than allowed.
    case timeout(String)
    /// A caller passed a value the harness cannot work with.
    case invalidArgument(String)

    /// A readable one-line explanation.
    public var description: String {
        switch self {
        case .system(let context, let error): return "\(context): \(error)"
        case .malformedMessage(let context, let error): return "malformed message (\(context)): \(error)"
        case .protocolError(let id, let iface, let code, let message):
            return "wl_display.error on \(iface)@\(id), code \(code): \(message)"
        case .protocolViolation(let what): return "protocol violation: \(what)"
        case .missingGlobal(let name): return "the server does not advertise \(name)"
        case .disconnected(let context): return "disconnected: \(context)"
        case .timeout(let what): return "timed out waiting for \(what)"
        case .invalidArgument(let what): return "invalid argument: \(what)"
        }
    }
}

/// Runs a system-layer operation, turning its error into a `HarnessError`.
func system<T>(_ context: @autoclosure () -> String, _ body: () throws(SystemError) -> T) throws(HarnessError) -> T {
    do { return try body() } catch { throw .system(context: context(), error) }
}
