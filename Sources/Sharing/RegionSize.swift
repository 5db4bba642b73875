/// Sizes a shared region may have. ivshmem BARs are powers of two, and
/// every buffer offset must fit wl_shm's signed 32-bit pool size, hence 1 GiB
/// at most.
public enum RegionSize {
    public static let minimum = 1 << 20
    public static let maximum = 1 << 30
    public static let defaultSize = 64 << 20

    /// Nil if `size` is allowed, else why not.
    public static func problem(_ size: Int) -> String? {
        if size < minimum { return "smaller than the minimum of \(minimum) bytes" }
        if size > maximum { return "larger than the maximum of \(maximum) bytes" }
        if size & (size - 1) != 0 { return "not a power of two (ivshmem requires one)" }
        return nil
    }

    /// Parses "64M", "1G", "1048576", "512K".
    public static func parse(_ text: String) -> Int? {
        guard let last = text.last else { return nil }
        let shift: Int
        var digits = Substring(text)
        switch last {
        case "K", "k": shift = 10; digits = digits.dropLast()
        case "M", "m": shift = 20; digits = digits.dropLast()
        case "G", "g": shift = 30; digits = digits.dropLast()
        default: shift = 0
        }
        guard let n = Int(digits), n > 0 else { return nil }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : bytes
    }
}
