import ArgumentParser
import Sharing

/// A number of bytes on the command line: `2147483648`, `512M`, `2G`.
struct ByteCountArgument: CommandLineValue, CustomStringConvertible {
    let bytes: UInt64

    static func parse(_ text: String) throws -> ByteCountArgument {
        guard let bytes = RegionSize.parse(text) else { throw ValidationError("expected a number of bytes such as 2147483648, 512M or 2G") }
        return ByteCountArgument(bytes: UInt64(bytes))
    }

    var description: String { "\(bytes)" }
}
