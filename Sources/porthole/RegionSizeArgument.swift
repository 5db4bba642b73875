import ArgumentParser
import Sharing

/// A `--region-size` value: a byte count (`67108864`, `64M`, `1G`) that a
/// region may have.
struct RegionSizeArgument: CommandLineValue, CustomStringConvertible {
    let bytes: Int

    static func parse(_ text: String) throws -> RegionSizeArgument {
        guard let bytes = RegionSize.parse(text) else { throw ValidationError("expected a number of bytes such as 67108864, 64M or 1G") }
        if let why = RegionSize.problem(bytes) { throw ValidationError(why) }
        return RegionSizeArgument(bytes: bytes)
    }

    var description: String { "\(bytes)" }
}
