/// A copy of the buffer a client committed to a surface, taken by the
/// recording compositor at the moment of the commit.
public struct RecordedCommit: Sendable, Equatable {
    /// Which connection committed it (1 for the first client accepted, and so on).
    public let client: Int
    /// The wl_surface's id on that connection.
    public let surfaceID: UInt32
    /// Buffer width in pixels.
    public let width: Int
    /// Buffer height in pixels.
    public let height: Int
    /// Bytes per row in `bytes`.
    public let stride: Int
    /// The wl_shm format code (0 ARGB8888, 1 XRGB8888).
    public let format: UInt32
    /// The buffer's `height * stride` bytes as they were at commit time.
    public let bytes: [UInt8]

    /// Creates a record (the compositor does this; tests may build expected values).
    public init(client: Int, surfaceID: UInt32, width: Int, height: Int, stride: Int, format: UInt32, bytes: [UInt8]) {
        self.client = client
        self.surfaceID = surfaceID
        self.width = width
        self.height = height
        self.stride = stride
        self.format = format
        self.bytes = bytes
    }

    /// The 32-bit pixel at (`x`, `y`) (0xAARRGGBB; alpha is undefined for XRGB8888).
    public func pixel(x: Int, y: Int) -> UInt32 {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
        let i = y * stride + x * 4
        return UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
    }
}
