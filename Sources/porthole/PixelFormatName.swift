import ArgumentParser

/// `--format NAME`: the pixel formats `porthole share publish` can fill,
/// DRM fourcc names of 4 bytes per pixel (the `format` property consumers get).
struct PixelFormatName: CommandLineValue, CustomStringConvertible {
    var name: String

    static let known = ["XRGB8888", "ARGB8888", "XBGR8888", "ABGR8888"]

    static func parse(_ text: String) throws -> PixelFormatName {
        guard known.contains(text) else { throw ValidationError("known formats: \(known.joined(separator: ", "))") }
        return PixelFormatName(name: text)
    }

    var description: String { name }
    static let bytesPerPixel = 4
}
