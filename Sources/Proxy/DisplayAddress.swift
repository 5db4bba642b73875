import Glibc

/// Where the host compositor listens.
public enum DisplayAddress {
    /// Resolves `--display` (a socket name in $XDG_RUNTIME_DIR or an absolute
    /// path) or, when nil, $WAYLAND_DISPLAY.
    public static func resolve(_ display: String?) throws(ProxyError) -> String {
        guard let name = display ?? getenv("WAYLAND_DISPLAY").map({ String(cString: $0) }), !name.isEmpty else {
            throw .configuration("no host display: pass --display or set WAYLAND_DISPLAY")
        }
        if name.hasPrefix("/") { return name }
        guard let dir = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !dir.isEmpty else {
            throw .configuration("XDG_RUNTIME_DIR is not set; cannot find display '\(name)'")
        }
        return dir + "/" + name
    }
}
