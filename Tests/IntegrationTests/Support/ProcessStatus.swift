import Foundation
import Glibc

/// A field of /proc/PID/status in KiB (VmHWM: peak resident set; VmRSS: now).
func procStatusKiB(pid: Int32, _ field: String) throws -> Int {
    let path = "/proc/\(pid)/status"
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw SupportError("cannot read \(path)")
    }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        let digits = line.dropFirst(field.count + 1).filter(\.isNumber)
        if let kib = Int(digits) { return kib }
    }
    throw SupportError("\(path) has no \(field) line")
}

/// Peak resident set size of `pid` so far, in KiB.
func peakRSSKiB(pid: Int32) throws -> Int { try procStatusKiB(pid: pid, "VmHWM") }

/// Processes whose process group is `pgid` (from /proc/PID/stat).
func processes(inGroup pgid: Int32) -> [Int32] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var result: [Int32] = []
    for entry in entries {
        guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // After "pid (comm) ": state ppid pgrp ...
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 2, Int32(fields[2]) == pgid { result.append(pid) }
    }
    return result
}

/// SIGKILLs what is left of a process group whose leader has already been
/// reaped (the group id cannot be reused while any member lives): for
/// programs that fork into the background, such as wl-copy.
func killLeftovers(ofGroup pgid: Int32) {
    for pid in processes(inGroup: pgid) { kill(pid, SIGKILL) }
}

/// SHA-256 of a file, by coreutils' sha256sum.
func sha256(ofFile path: String, logDirectory: String) throws -> String {
    let out = try runCommand("sha256sum", [path], logDirectory: logDirectory, timeout: 60).stdoutText
    guard let hash = out.split(separator: " ").first, hash.count == 64 else { throw SupportError("sha256sum said: \(out)") }
    return String(hash)
}
