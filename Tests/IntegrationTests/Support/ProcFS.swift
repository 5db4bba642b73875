import Foundation

/// Number of open file descriptors of process `pid` (entries of /proc/PID/fd).
func openFDCount(pid: Int32) throws -> Int {
    do {
        return try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    } catch {
        throw SupportError("cannot list /proc/\(pid)/fd: \(error)")
    }
}

/// Open file descriptors of process `pid` and what they point at
/// (e.g. "socket:[1234]", "/memfd:wl_shm (deleted)", "pipe:[99]"),
/// for explaining a leak.
func openFDs(pid: Int32) throws -> [Int: String] {
    let dir = "/proc/\(pid)/fd"
    var result: [Int: String] = [:]
    for entry in try FileManager.default.contentsOfDirectory(atPath: dir) {
        guard let fd = Int(entry) else { continue }
        result[fd] = (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\(entry)")) ?? "?"
    }
    return result
}

/// Whether a TCP socket (IPv4 or IPv6) is in LISTEN state on `port`, read from
/// /proc/net/tcp{,6}: no connection is made.
func isTCPListening(port: Int) -> Bool {
    let hexPort = String(format: "%04X", port)
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // sl local_address rem_address st ...; LISTEN is state 0A.
            guard fields.count > 3, fields[3] == "0A" else { continue }
            if fields[1].hasSuffix(":" + hexPort) { return true }
        }
    }
    return false
}

/// A TCP port on 127.0.0.1 that was free when asked (bound to port 0, read
/// back, closed).
func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SupportError("socket() failed: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else { throw SupportError("bind() failed: \(String(cString: strerror(errno)))") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw SupportError("getsockname() failed: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
