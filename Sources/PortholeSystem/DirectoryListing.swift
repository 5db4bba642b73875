import Glibc

/// The names in a directory, "." and ".." left out.
public enum DirectoryListing {
    /// Nil when the directory cannot be opened. A dirent is only as long
    /// as its name: the name is read where it lies, never by copying the
    /// struct (whose 256-byte d_name reads past the kernel's record, and past
    /// the end of glibc's buffer for the last entry: AddressSanitizer found
    /// it in the descriptor count).
    public static func names(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
