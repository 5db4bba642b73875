import Foundation
import Glibc
import PortholeSystem

/// A fresh private directory under /tmp, for what a test puts on disk
/// (sockets, region files, sysfs stand-ins, protocol files). mkdtemp makes
/// it 0700 with a name no other run can take; `remove()` deletes it with
/// everything inside, so a test needs no list of what it created. Every
/// test removes the directories it makes, on its failure paths too (a
/// `defer`, or `withTemporaryDirectory`): the suite runs many times a day
/// and each one left behind used to stay in /tmp for good.
public struct TemporaryDirectory: Sendable {
    public let path: String

    /// `prefix` names the test that made it (/tmp/PREFIX-XXXXXX), should one
    /// be left by a test process that was killed. Short on purpose: a unix
    /// socket path inside must fit in 108 bytes.
    public init(prefix: String = "porthole-test") throws(SystemError) {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else { throw SystemError("mkdtemp /tmp/\(prefix)-XXXXXX") }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The path of `name` inside this directory (not created).
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Removes the directory and everything in it. Idempotent.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh temporary directory and removes the directory
/// afterwards, however `body` ends.
public func withTemporaryDirectory<Result>(prefix: String = "porthole-test",
                                           _ body: (TemporaryDirectory) throws -> Result) throws -> Result {
    let directory = try TemporaryDirectory(prefix: prefix)
    defer { directory.remove() }
    return try body(directory)
}
