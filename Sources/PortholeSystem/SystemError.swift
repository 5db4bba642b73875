import Glibc

/// A failed system call: which operation failed and the errno it set.
public struct SystemError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The errno value.
    public let code: Int32
    /// What was being attempted, e.g. `"connect unix:/run/x"`.
    public let operation: String

    public init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    public var description: String {
        "\(operation): \(String(cString: strerror(code))) (errno \(code))"
    }

    /// True for EAGAIN/EWOULDBLOCK.
    public var wouldBlock: Bool { code == EAGAIN || code == EWOULDBLOCK }
}
