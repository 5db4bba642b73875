import Glibc
import PortholeSystem
import SystemTestSupport
import Testing

/// Identity of an open file (device and inode), to tell which file a
/// descriptor received over a socket refers to.
struct FileIdentity: Equatable, Hashable, CustomStringConvertible {
    let device: UInt64
    let inode: UInt64
    var description: String { "\(device):\(inode)" }
}

func identity(of fd: Int32) -> FileIdentity? {
    var st = stat()
    guard fstat(fd, &st) == 0 else { return nil }
    return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
}

/// Whether `fd` is an open descriptor of this process.
func isOpenDescriptor(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

func hasCloseOnExec(_ fd: Int32) -> Bool {
    let flags = fcntl(fd, F_GETFD)
    return flags != -1 && (flags & FD_CLOEXEC) != 0
}

/// `count` distinct memfds (each one byte long, holding its index).
func makeMemfds(_ count: Int, name: String = "test") throws -> [OwnedFD] {
    try (0..<count).map { i in
        let fd = try Memfd.create(name: "\(name)-\(i)", size: 0)
        var b = UInt8(truncatingIfNeeded: i)
        #expect(write(fd.rawValue, &b, 1) == 1)
        return fd
    }
}

/// The SystemError `body` throws, or nil (recording an issue) if it does not.
func systemError(_ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws -> Void) -> SystemError? {
    do {
        try body()
        Issue.record("\(what): expected an error", sourceLocation: sourceLocation)
        return nil
    } catch let error as SystemError {
        return error
    } catch {
        Issue.record("\(what): expected a SystemError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A non-blocking pipe.
func makePipe() throws -> (read: OwnedFD, write: OwnedFD) {
    let p = try Pipe.make()
    try p.read.setNonBlocking()
    try p.write.setNonBlocking()
    return p
}
