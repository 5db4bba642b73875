import Glibc

/// Counts the descriptors open in this process (entries of /proc/self/fd).
public func openFileDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in raw.first ?? 0 }
        if name != UInt8(ascii: ".") { count += 1 }
    }
    return count - 1 // the directory stream's own descriptor
}
