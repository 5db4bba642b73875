import ArgumentParser

/// `--size WxH`: a picture's width and height in pixels, 1 to 16384 each.
struct FrameSize: CommandLineValue, CustomStringConvertible {
    var width: Int
    var height: Int

    static func parse(_ text: String) throws -> FrameSize {
        let parts = text.split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), (1...16384).contains(w), (1...16384).contains(h) else {
            throw ValidationError("expected WIDTHxHEIGHT in pixels, each 1 to 16384, such as 640x480")
        }
        return FrameSize(width: w, height: h)
    }

    var description: String { "\(width)x\(height)" }
}
