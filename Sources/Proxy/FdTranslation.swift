import Link
import Wayland

/// How the proxies carry the fd argument of one message across the link.
public enum FdTranslation: Sendable, Equatable {
    /// wl_shm pool memory: mirrored into a host memfd, updated on commit.
    case shmPool
    /// A file the recipient only reads (keymaps, format tables): sent once, sealed.
    case readOnlyFile
    /// The write end of a pipe (clipboard, drag and drop): bytes flow back as pipe data.
    case pipe

    /// The kind of resource that stands for the fd on the link.
    var resourceKind: ResourceKind {
        switch self {
        case .shmPool: return .shmPool
        case .readOnlyFile: return .readOnlyFile
        case .pipe: return .pipe
        }
    }
}
