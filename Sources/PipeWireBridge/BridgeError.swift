/// Why the bridge cannot start or has to stop.
public enum BridgeError: Error, CustomStringConvertible {
    /// PipeWire refused something (the daemon is missing, a stream failed).
    case pipewire(String)
    /// The host's buffer service could not be reached or went away.
    case bufferService(String)

    public var description: String {
        switch self {
        case .pipewire(let why): why
        case .bufferService(let why): why
        }
    }
}
