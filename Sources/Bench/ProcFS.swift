import Foundation
import Glibc

/// What /proc says about a group of processes at one moment.
public struct ProcessSample: Sendable {
    /// User + system CPU seconds of every process in the group and of the
    /// children they have reaped (cutime, cstime).
    public var cpuSeconds: Double
    /// Bytes passed to write(2)-family calls (wchar), summed.
    public var writtenBytes: UInt64
    /// Bytes passed to read(2)-family calls (rchar), summed.
    public var readBytes: UInt64
    /// Sum of each process's peak resident set (VmHWM).
    public var peakRSSBytes: UInt64
    /// Processes counted.
    public var processes: Int

    public static let zero = ProcessSample(cpuSeconds: 0, writtenBytes: 0, readBytes: 0, peakRSSBytes: 0, processes: 0)

    static func + (a: ProcessSample, b: ProcessSample) -> ProcessSample {
        ProcessSample(cpuSeconds: a.cpuSeconds + b.cpuSeconds, writtenBytes: a.writtenBytes + b.writtenBytes,
                      readBytes: a.readBytes + b.readBytes, peakRSSBytes: a.peakRSSBytes + b.peakRSSBytes,
                      processes: a.processes + b.processes)
    }
}

/// Reading /proc: process trees, CPU time, I/O counters, peak memory.
public enum ProcFS {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The fields of /proc/PID/stat after the command name (field 3 onwards).
    static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// The parent of every process now running.
    static func parents() -> [pid_t: pid_t] {
        var out: [pid_t: pid_t] = [:]
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return out }
        for e in entries {
            guard let pid = pid_t(e), let f = statFields(pid), f.count > 1, let ppid = pid_t(f[1]) else { continue }
            out[pid] = ppid
        }
        return out
    }

    /// `roots` and all their descendants now running.
    public static func tree(_ roots: [pid_t]) -> [pid_t] {
        let parents = parents()
        var children: [pid_t: [pid_t]] = [:]
        for (pid, ppid) in parents { children[ppid, default: []].append(pid) }
        var out: [pid_t] = []
        var stack = roots.filter { parents[$0] != nil }
        var seen = Set<pid_t>()
        while let p = stack.popLast() {
            guard seen.insert(p).inserted else { continue }
            out.append(p)
            stack += children[p] ?? []
        }
        return out
    }

    /// CPU seconds of `pid`: utime + stime + cutime + cstime.
    static func cpuSeconds(_ pid: pid_t) -> Double {
        // After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
        guard let f = statFields(pid), f.count > 14 else { return 0 }
        let ticks = (11...14).reduce(0.0) { $0 + (Double(f[$1]) ?? 0) }
        return ticks / ticksPerSecond
    }

    /// (rchar, wchar) of `pid`, zeros if unreadable.
    static func io(_ pid: pid_t) -> (read: UInt64, written: UInt64) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8) else { return (0, 0) }
        var r: UInt64 = 0, w: UInt64 = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("rchar:") { r = UInt64(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0 }
            if line.hasPrefix("wchar:") { w = UInt64(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0 }
        }
        return (r, w)
    }

    /// A `/proc/PID/status` value in kB ("VmHWM"), as bytes.
    static func statusBytes(_ pid: pid_t, _ key: String) -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let digits = line.dropFirst(key.count + 1).filter(\.isNumber)
            return (UInt64(String(digits)) ?? 0) * 1024
        }
        return 0
    }

    /// A sample of `roots` and their descendants.
    public static func sample(tree roots: [pid_t]) -> ProcessSample {
        var s = ProcessSample.zero
        for pid in tree(roots) {
            let io = io(pid)
            s = s + ProcessSample(cpuSeconds: cpuSeconds(pid), writtenBytes: io.written, readBytes: io.read,
                                  peakRSSBytes: statusBytes(pid, "VmHWM"), processes: 1)
        }
        return s
    }

    /// CPU seconds this process (all threads) and its reaped children used.
    public static func ownCPUSeconds() -> Double { cpuSeconds(getpid()) }

    /// Busy and total CPU seconds of the whole machine since boot, from /proc/stat.
    public static func machineCPU() -> (busy: Double, total: Double) {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return (0, 0) }
        let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 5 else { return (0, 0) }
        // user nice system idle iowait irq softirq steal (guest counted in user)
        let idle = v[3] + v[4]
        let total = v.prefix(8).reduce(0, +)
        return ((total - idle) / ticksPerSecond, total / ticksPerSecond)
    }

    /// The 1-minute load average.
    public static func loadAverage() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return 0 }
        return Double(text.split(separator: " ").first ?? "") ?? 0
    }

    /// The running executable's path (/proc/self/exe).
    public static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ProcFS {
    /// The share of the machine's CPU time that was idle over the next
    /// `seconds` (from /proc/stat), measured while this process sleeps.
    public static func idleShare(over seconds: Double) -> Double {
        let a = machineCPU()
        usleep(UInt32(seconds * 1e6))
        let b = machineCPU()
        let total = b.total - a.total
        return total > 0 ? max(0, 1 - (b.busy - a.busy) / total) : 0
    }
}
