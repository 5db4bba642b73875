import Foundation

/// An RGBA colour. Comparisons against screenshot pixels use RGB only: weston's
/// screenshots carry alpha 0 in places a client drew opaque XRGB content.
struct Color: Hashable, Sendable, CustomStringConvertible {
    var r: UInt8, g: UInt8, b: UInt8, a: UInt8

    init(r: UInt8, g: UInt8, b: UInt8, a: UInt8 = 255) {
        self.r = r; self.g = g; self.b = b; self.a = a
    }
    /// From 0xRRGGBB.
    init(rgb: UInt32) {
        self.init(r: UInt8((rgb >> 16) & 0xff), g: UInt8((rgb >> 8) & 0xff), b: UInt8(rgb & 0xff))
    }
    init(_ pixel: Image.Pixel) { self.init(r: pixel.r, g: pixel.g, b: pixel.b, a: pixel.a) }

    /// Whether `pixel`'s RGB is within `tolerance` of this colour on each channel.
    func matches(_ pixel: Image.Pixel, tolerance: Int = 0) -> Bool {
        abs(Int(pixel.r) - Int(r)) <= tolerance
            && abs(Int(pixel.g) - Int(g)) <= tolerance
            && abs(Int(pixel.b) - Int(b)) <= tolerance
    }

    var description: String {
        String(format: "#%02x%02x%02x", r, g, b) + (a == 255 ? "" : String(format: "/%02x", a))
    }
}

/// An axis-aligned pixel rectangle (x, y is the top-left corner).
struct Rect: Hashable, Sendable, CustomStringConvertible {
    var x: Int, y: Int, width: Int, height: Int

    var maxX: Int { x + width }   // exclusive
    var maxY: Int { y + height }  // exclusive
    var area: Int { width * height }
    var isEmpty: Bool { width <= 0 || height <= 0 }
    var center: (x: Int, y: Int) { (x + width / 2, y + height / 2) }

    func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }
    func contains(_ other: Rect) -> Bool {
        other.x >= x && other.y >= y && other.maxX <= maxX && other.maxY <= maxY
    }
    func intersection(_ other: Rect) -> Rect? {
        let nx = max(x, other.x), ny = max(y, other.y)
        let mx = min(maxX, other.maxX), my = min(maxY, other.maxY)
        return mx > nx && my > ny ? Rect(x: nx, y: ny, width: mx - nx, height: my - ny) : nil
    }
    /// Grown by `d` pixels on each side (shrunk for negative `d`).
    func insetBy(_ d: Int) -> Rect { Rect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d) }

    var description: String { "\(width)x\(height)+\(x)+\(y)" }
}

/// A decoded screenshot: 8-bit RGBA, row-major, top row first.
struct Image: Sendable, Equatable {
    typealias Pixel = (r: UInt8, g: UInt8, b: UInt8, a: UInt8)

    let width: Int
    let height: Int
    /// width * height * 4 bytes.
    let rgba: [UInt8]
    /// The PNG it was read from, if any (kept for failure messages).
    var sourcePath: String?

    init(width: Int, height: Int, rgba: [UInt8], sourcePath: String? = nil) {
        precondition(width >= 0 && height >= 0 && rgba.count == width * height * 4,
                     "Image: \(rgba.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.rgba = rgba
        self.sourcePath = sourcePath
    }

    /// A solid image, handy for tests of the helpers.
    init(width: Int, height: Int, fill: Color) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(width * height * 4)
        for _ in 0..<(width * height) { bytes += [fill.r, fill.g, fill.b, fill.a] }
        self.init(width: width, height: height, rgba: bytes)
    }

    static func == (lhs: Image, rhs: Image) -> Bool {
        lhs.width == rhs.width && lhs.height == rhs.height && lhs.rgba == rhs.rgba
    }

    var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    func pixel(x: Int, y: Int) -> Pixel {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
        let i = (y * width + x) * 4
        return (rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3])
    }

    func color(x: Int, y: Int) -> Color { Color(pixel(x: x, y: y)) }

    /// Calls `body` for each pixel in `rect` (clipped to the image).
    func forEachPixel(in rect: Rect? = nil, _ body: (Int, Int, Pixel) throws -> Void) rethrows {
        guard let area = (rect ?? bounds).intersection(bounds) else { return }
        try rgba.withUnsafeBufferPointer { p in
            for y in area.y..<area.maxY {
                var i = (y * width + area.x) * 4
                for x in area.x..<area.maxX {
                    try body(x, y, (p[i], p[i + 1], p[i + 2], p[i + 3]))
                    i += 4
                }
            }
        }
    }

    /// Number of pixels in `rect` (default: all) for which `predicate` holds.
    func count(in rect: Rect? = nil, where predicate: (Pixel) -> Bool) -> Int {
        var n = 0
        forEachPixel(in: rect) { _, _, p in if predicate(p) { n += 1 } }
        return n
    }

    /// Number of pixels whose RGB differs from `background` by more than `tolerance`.
    func countDiffering(from background: Color, tolerance: Int = 0, in rect: Rect? = nil) -> Int {
        count(in: rect) { !background.matches($0, tolerance: tolerance) }
    }

    /// The smallest rectangle holding every pixel (in `rect`) for which
    /// `predicate` holds, or nil if there is none.
    func boundingBox(in rect: Rect? = nil, where predicate: (Pixel) -> Bool) -> Rect? {
        var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
        forEachPixel(in: rect) { x, y, p in
            if predicate(p) {
                minX = Swift.min(minX, x); maxX = Swift.max(maxX, x)
                minY = Swift.min(minY, y); maxY = Swift.max(maxY, y)
            }
        }
        return maxX < 0 ? nil : Rect(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1)
    }

    /// Bounding box of everything that is not `background`.
    func boundingBox(differingFrom background: Color, tolerance: Int = 0, in rect: Rect? = nil) -> Rect? {
        boundingBox(in: rect) { !background.matches($0, tolerance: tolerance) }
    }

    /// Bounding boxes of the 8-connected regions of non-`background` pixels that
    /// have at least `minPixels` pixels, largest first. A window usually is one
    /// region; separate windows are separate regions unless they touch.
    func regions(differingFrom background: Color, tolerance: Int = 0, minPixels: Int = 1) -> [Rect] {
        regions(minPixels: minPixels) { !background.matches($0, tolerance: tolerance) }
    }

    /// Bounding boxes of the 8-connected regions of pixels for which
    /// `predicate` holds, with at least `minPixels` pixels each, largest
    /// (by pixel count) first.
    func regions(minPixels: Int = 1, where predicate: (Pixel) -> Bool) -> [Rect] {
        let n = width * height
        guard n > 0 else { return [] }
        // 0 = not in mask, 1 = in mask and unvisited, 2 = visited.
        var mask = [UInt8](repeating: 0, count: n)
        forEachPixel { x, y, p in if predicate(p) { mask[y * width + x] = 1 } }
        var found: [(count: Int, rect: Rect)] = []
        var stack: [Int] = []
        mask.withUnsafeMutableBufferPointer { m in
            for start in 0..<n where m[start] == 1 {
                m[start] = 2
                stack.append(start)
                var count = 0
                var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
                while let i = stack.popLast() {
                    count += 1
                    let x = i % width, y = i / width
                    minX = Swift.min(minX, x); maxX = Swift.max(maxX, x)
                    minY = Swift.min(minY, y); maxY = Swift.max(maxY, y)
                    for dy in -1...1 {
                        let ny = y + dy
                        if ny < 0 || ny >= height { continue }
                        for dx in -1...1 {
                            let nx = x + dx
                            if nx < 0 || nx >= width || (dx == 0 && dy == 0) { continue }
                            let j = ny * width + nx
                            if m[j] == 1 {
                                m[j] = 2
                                stack.append(j)
                            }
                        }
                    }
                }
                if count >= minPixels {
                    found.append((count, Rect(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1)))
                }
            }
        }
        return found.sorted { $0.count > $1.count }.map(\.rect)
    }

    /// How many pixels have each RGBA colour.
    func histogram(in rect: Rect? = nil) -> [Color: Int] {
        var counts: [UInt32: Int] = [:]
        forEachPixel(in: rect) { _, _, p in
            let key = UInt32(p.r) << 24 | UInt32(p.g) << 16 | UInt32(p.b) << 8 | UInt32(p.a)
            counts[key, default: 0] += 1
        }
        var result: [Color: Int] = [:]
        for (key, n) in counts {
            result[Color(r: UInt8(key >> 24), g: UInt8((key >> 16) & 0xff),
                         b: UInt8((key >> 8) & 0xff), a: UInt8(key & 0xff))] = n
        }
        return result
    }

    /// The most frequent colour (in `rect`), e.g. a screenshot's background.
    func dominantColor(in rect: Rect? = nil) -> Color? {
        histogram(in: rect).max { $0.value < $1.value }?.key
    }

    /// Number of distinct RGB colours in `rect`: a drawn window has many, a
    /// solid fill one.
    func distinctColors(in rect: Rect? = nil) -> Int {
        var seen = Set<UInt32>()
        forEachPixel(in: rect) { _, _, p in seen.insert(UInt32(p.r) << 16 | UInt32(p.g) << 8 | UInt32(p.b)) }
        return seen.count
    }

    /// The part of the image inside `rect` (clipped).
    func cropped(to rect: Rect) -> Image {
        guard let area = rect.intersection(bounds) else { return Image(width: 0, height: 0, rgba: []) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(area.area * 4)
        for y in area.y..<area.maxY {
            let start = (y * width + area.x) * 4
            bytes += rgba[start..<(start + area.width * 4)]
        }
        return Image(width: area.width, height: area.height, rgba: bytes)
    }

    /// Reads any image ImageMagick understands (PNG, typically) as 8-bit RGBA.
    static func load(path: String, logDirectory: String) throws -> Image {
        let size = try runCommand(
            "/usr/bin/identify", ["-format", "%w %h", path],
            logDirectory: logDirectory, timeout: 30
        ).stdoutText
        let parts = size.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard parts.count == 2 else {
            throw SupportError("identify printed \"\(size)\" for \(path); expected \"WIDTH HEIGHT\"")
        }
        // [0]: the first frame only, in case a file holds several.
        let pixels = try runCommand(
            "/usr/bin/convert", [path + "[0]", "-depth", "8", "rgba:-"],
            logDirectory: logDirectory, timeout: 30
        ).stdout
        guard pixels.count == parts[0] * parts[1] * 4 else {
            throw SupportError("convert gave \(pixels.count) bytes for \(path), a \(parts[0])x\(parts[1]) image")
        }
        return Image(width: parts[0], height: parts[1], rgba: [UInt8](pixels), sourcePath: path)
    }

    /// Writes the image as a PNG (for looking at a failure).
    func writePNG(to path: String, logDirectory: String) throws {
        let raw = "\(logDirectory)/image-\(UUID().uuidString).rgba"
        guard FileManager.default.createFile(atPath: raw, contents: Data(rgba)) else {
            throw SupportError("cannot write \(raw)")
        }
        defer { try? FileManager.default.removeItem(atPath: raw) }
        try runCommand(
            "/usr/bin/convert", ["-size", "\(width)x\(height)", "-depth", "8", "rgba:\(raw)", path],
            logDirectory: logDirectory, timeout: 30)
    }
}
