import Bench
import Harness
import Testing

@Suite struct PatternPainterTests {
    @Test(arguments: [1, 15, 16, 17, 640, 1283])
    func rowsEqualTheReferencePattern(width: Int) {
        let painter = PatternPainter(width: width)
        var row = [UInt32](repeating: 0, count: width)
        for frame in [0, 1, 2, 255, 256, 1000, 123_457] {
            for y in [0, 1, 15, 16, 479, 2159] {
                row.withUnsafeMutableBufferPointer { painter.paintRow(frame: frame, y: y, from: 0, to: width, into: $0.baseAddress!) }
                for x in 0..<width {
                    #expect(row[x] == PatternClient.pattern(frame: frame, x: x, y: y), "frame \(frame) (\(x), \(y))")
                }
            }
        }
    }

    @Test func paintTouchesOnlyTheRectangle() {
        let width = 40, height = 30, stride = width * 4 + 8
        var image = [UInt8](repeating: 0xAB, count: stride * height)
        let rect = PixelRect(x: 5, y: 7, width: 20, height: 9)
        PatternPainter(width: width).paint(frame: 9, rect: rect, into: &image, stride: stride)
        for y in 0..<height {
            for x in 0..<(stride / 4) {
                let i = y * stride + x * 4
                let v = UInt32(image[i]) | UInt32(image[i + 1]) << 8 | UInt32(image[i + 2]) << 16 | UInt32(image[i + 3]) << 24
                let inside = x >= rect.x && x < rect.x + rect.width && y >= rect.y && y < rect.y + rect.height
                #expect(v == (inside ? PatternClient.pattern(frame: 9, x: x, y: y) : 0xABAB_ABAB), "(\(x), \(y))")
            }
        }
    }

    @Test func consecutiveFramesDifferEverywhere() {
        // What makes damaged bytes changed bytes: no pixel repeats from one
        // frame to the next, nor within a band or scattered period.
        for period in [1, 2, 4, 50] {
            for x in stride(from: 0, to: 4000, by: 7) {
                for y in stride(from: 0, to: 2200, by: 13) {
                    #expect(PatternClient.pattern(frame: 10 + period, x: x, y: y) != PatternClient.pattern(frame: 10, x: x, y: y))
                }
            }
        }
    }
}
