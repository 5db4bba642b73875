import Foundation
import Glibc
import PortholeSystem

/// The machine's copy speed for one frame: glibc memcpy of a 3840x2160
/// XRGB frame between two buffers already touched (so no page faults), the
/// fastest of several tries. The region mode cannot beat one of these per
/// frame, so the report prints it beside the region results.
public struct MemcpyProbe: Sendable {
    public var bytes: Int
    /// Seconds of the fastest copy, and the median.
    public var fastest: Double
    public var median: Double

    public var gigabytesPerSecond: Double { fastest > 0 ? Double(bytes) / fastest / 1e9 : 0 }

    public static let frameBytes = 3840 * 2160 * 4

    public static func measure(bytes: Int = frameBytes, tries: Int = 15) -> MemcpyProbe {
        let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        let target = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer {
            source.deallocate()
            target.deallocate()
        }
        memset(source, 0x5a, bytes)
        memset(target, 0xa5, bytes)
        var times: [Double] = []
        for _ in 0..<tries {
            let t0 = MonotonicClock.nanoseconds()
            memcpy(target, source, bytes)
            times.append(Double(MonotonicClock.nanoseconds() - t0) / 1e9)
        }
        times.sort()
        return MemcpyProbe(bytes: bytes, fastest: times[0], median: times[times.count / 2])
    }

    /// "memcpy of one 3840x2160 frame (33.2 MB): 1.27 ms fastest, 1.31 ms median (26.1 GB/s)".
    public var sentence: String {
        String(format: "memcpy of one 3840x2160 frame (%.1f MB): %.2f ms fastest, %.2f ms median (%.1f GB/s)",
               Double(bytes) / 1e6, fastest * 1000, median * 1000, gigabytesPerSecond)
    }
}
