import Foundation
import Glibc

/// What the report says about the machine and the software measured.
public struct MachineFacts: Sendable {
    public var cpuModel: String
    public var cores: Int
    public var memory: String
    public var kernel: String
    public var os: String
    public var swift: String
    public var waypipe: String
    public var weston: String
    public var porthole: String

    public static func read(portholePath: String) -> MachineFacts {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let machine = withUnsafeBytes(of: &uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let memKB = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }.flatMap { Double($0.filter(\.isNumber)) } ?? 0
        let osRelease = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        let pretty = osRelease.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { String($0.dropFirst(12)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "unknown"
        let swift = firstLine(run(["swift", "--version"])) ?? "unknown (swift not on PATH)"
        let git = firstLine(run(["git", "-C", FileManager.default.currentDirectoryPath, "describe", "--always", "--dirty"]))
        return MachineFacts(
            cpuModel: model,
            cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
            memory: String(format: "%.0f GiB", memKB / 1024 / 1024),
            kernel: "Linux \(release) \(machine)",
            os: pretty,
            swift: swift,
            waypipe: firstLine(run(["waypipe", "--version"])) ?? "not found",
            weston: firstLine(run(["weston", "--version"])) ?? "not found",
            porthole: (git.map { "working tree \($0), " } ?? "") + buildKind
                + (portholePath == ProcFS.executablePath() ? "" : "; proxies run \(portholePath)"))
    }
}

#if DEBUG
let buildKind = "debug build"
#else
let buildKind = "release build"
#endif

func firstLine(_ s: String?) -> String? {
    guard let s else { return nil }
    let line = s.split(separator: "\n").first.map(String.init)?.trimmingCharacters(in: .whitespaces)
    return line?.isEmpty == false ? line : nil
}

/// Runs a command (looked up on PATH) and returns its stdout (stderr merged),
/// or nil if it could not run or failed.
func run(_ arguments: [String]) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self)
}
