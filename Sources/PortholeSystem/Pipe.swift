import CPorthole

/// Anonymous pipes.
public enum Pipe {
    /// A new close-on-exec pipe.
    public static func make() throws(SystemError) -> (read: OwnedFD, write: OwnedFD) {
        var ends: [Int32] = [-1, -1]
        _ = try ends.withUnsafeMutableBufferPointer { (p) throws(SystemError) in
            try syscall("pipe2") { porthole_pipe(p.baseAddress!) }
        }
        return (OwnedFD(ends[0]), OwnedFD(ends[1]))
    }
}
