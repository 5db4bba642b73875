/// Counts the descriptors open in this process (entries of /proc/self/fd).
public func openFileDescriptorCount() -> Int {
    guard let names = DirectoryListing.names("/proc/self/fd") else { return -1 }
    return names.count - 1 // the directory stream's own descriptor
}
