import PortholeSystem

/// Errors that stop a proxy from starting or running.
public enum ProxyError: Error, CustomStringConvertible {
    case configuration(String)
    case system(SystemError)
    case linkFailed(String)

    public var description: String {
        switch self {
        case .configuration(let s): return s
        case .system(let e): return e.description
        case .linkFailed(let s): return "link failed: \(s)"
        }
    }
}
