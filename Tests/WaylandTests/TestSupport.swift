import Glibc
import Wayland

/// A unique path for a unix socket in a fresh temporary directory.
func temporarySocketPath(_ name: String = "wayland-test") -> String {
    var template = Array("/tmp/porthole-wl-XXXXXX".utf8CString)
    let dir = template.withUnsafeMutableBufferPointer { buf -> String in
        guard let p = mkdtemp(buf.baseAddress!) else { return "/tmp" }
        return String(cString: p)
    }
    return "\(dir)/\(name)"
}

/// Removes the socket and the directory `temporarySocketPath` made for it.
func removeSocketPath(_ path: String) {
    unlink(path)
    if let slash = path.lastIndex(of: "/") { rmdir(String(path[..<slash])) }
}

/// A small deterministic random generator (SplitMix64), so failures replay.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Whether two interfaces describe the same wire protocol.
func sameInterface(_ a: Interface, _ b: Interface) -> Bool {
    a.name == b.name && a.version == b.version && a.requests == b.requests && a.events == b.events
}

/// Every builtin interface, sorted by name so iteration is deterministic.
var builtinInterfaces: [Interface] {
    ProtocolTables.builtin.interfaces.values.sorted { $0.name < $1.name }
}
