import CLibPipeWire
import Testing
@testable import PipeWireBridge

@Suite struct SourceFormatTests {
    static func properties(_ format: String = "XRGB8888", width: String = "640", height: String = "480", stride: String = "2560") -> [(name: String, value: String)] {
        [("width", width), ("height", height), ("stride", stride), ("format", format)]
    }

    @Test func xbgr8888IsRGBxAndAbgr8888IsRGBA() throws {
        #expect(try SourceFormat.from(properties: Self.properties("XBGR8888"), size: 640 * 480 * 4).get().pixel.spaFormat
            == SPA_VIDEO_FORMAT_RGBx.rawValue)
        #expect(try SourceFormat.from(properties: Self.properties("ABGR8888"), size: 640 * 480 * 4).get().pixel.spaFormat
            == SPA_VIDEO_FORMAT_RGBA.rawValue)
    }

    @Test func xrgb8888IsBGRxAndArgb8888IsBGRAWithTheBuffersSizeAndStride() throws {
        let x = try SourceFormat.from(properties: Self.properties(), size: 640 * 480 * 4).get()
        #expect(x == SourceFormat(pixel: .bgrx, width: 640, height: 480, stride: 2560))
        #expect(x.pixel.spaFormat == SPA_VIDEO_FORMAT_BGRx.rawValue)
        let a = try SourceFormat.from(properties: Self.properties("ARGB8888", stride: "2688"), size: 2688 * 480).get()
        #expect(a == SourceFormat(pixel: .bgra, width: 640, height: 480, stride: 2688))
        #expect(a.pixel.spaFormat == SPA_VIDEO_FORMAT_BGRA.rawValue)
    }

    @Test func theLastRowNeedsOnlyItsPixelsNotAWholeStride() throws {
        #expect(throws: Never.self) { try SourceFormat.from(properties: Self.properties(stride: "4096"), size: 4096 * 479 + 2560).get() }
        #expect(SourceFormat.from(properties: Self.properties(stride: "4096"), size: 4096 * 479 + 2559)
            == .failure(.doesNotFit(bytes: 4096 * 479 + 2560, size: 4096 * 479 + 2559)))
    }

    @Test func propertiesThatDescribeNoOfferableFormatAreRefusedWithTheirReason() {
        let size = 640 * 480 * 4
        #expect(SourceFormat.from(properties: [("width", "640")], size: size) == .failure(.missing("format")))
        #expect(SourceFormat.from(properties: Self.properties("NV12"), size: size) == .failure(.unsupportedFormat("NV12")))
        #expect(SourceFormat.from(properties: Self.properties(width: "-640"), size: size) == .failure(.badNumber("width", "-640")))
        #expect(SourceFormat.from(properties: Self.properties(height: "0"), size: size) == .failure(.badNumber("height", "0")))
        #expect(SourceFormat.from(properties: Self.properties(stride: "99999999999999999999"), size: size)
            == .failure(.badNumber("stride", "99999999999999999999")))
        #expect(SourceFormat.from(properties: Self.properties(stride: "2556"), size: size) == .failure(.strideTooSmall(stride: 2556, width: 640)))
        #expect(SourceFormat.from(properties: Self.properties(width: "16385", stride: "65540"), size: Int.max / 2)
            == .failure(.tooLarge(width: 16385, height: 480)))
        #expect(SourceFormat.from(properties: Self.properties(), size: size - 1) == .failure(.doesNotFit(bytes: size, size: size - 1)))
        let noStride: [(name: String, value: String)] = [("width", "640"), ("height", "480"), ("format", "XRGB8888")]
        #expect(SourceFormat.from(properties: noStride, size: size) == .failure(.missing("stride")))
    }
}
