import Glibc

/// Retries `body` while it fails with EINTR; throws `SystemError` on -1.
@discardableResult
@inline(__always)
public func syscall<T: FixedWidthInteger>(_ operation: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        if errno == EINTR { continue }
        throw SystemError(operation())
    }
}
