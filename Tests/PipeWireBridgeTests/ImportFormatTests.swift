import CLibPipeWire
import Testing
@testable import PipeWireBridge

@Suite struct ImportFormatTests {
    @Test func eachOfferedSPAFormatBecomesTheDRMNameTheExportReadsBackAsTheSamePixel() throws {
        for pixel in [SourceFormat.Pixel.bgrx, .bgra, .rgbx, .rgba] {
            let f = try #require(ImportFormat.from(spaFormat: pixel.spaFormat, width: 320, height: 240))
            let back = try SourceFormat.from(properties: f.properties.map { (name: $0.0, value: $0.1) }, size: f.bytes).get()
            #expect(back == SourceFormat(pixel: pixel, width: 320, height: 240, stride: 1280))
        }
        #expect(ImportFormat.from(spaFormat: SPA_VIDEO_FORMAT_BGRx.rawValue, width: 1, height: 1)?.drmName == "XRGB8888")
        #expect(ImportFormat.from(spaFormat: SPA_VIDEO_FORMAT_RGBA.rawValue, width: 1, height: 1)?.drmName == "ABGR8888")
    }

    @Test func theBuffersPropertiesAreWidthHeightPackedStrideAndFormat() {
        let f = ImportFormat(pixel: .bgrx, width: 1920, height: 1080)
        #expect(f.properties.map { "\($0.0)=\($0.1)" } == ["width=1920", "height=1080", "stride=7680", "format=XRGB8888"])
        #expect(f.bytes == 1920 * 1080 * 4)
    }

    @Test func otherFormatsAClearedSizeAndSizesPastTheLimitAreNotTaken() {
        #expect(ImportFormat.from(spaFormat: SPA_VIDEO_FORMAT_NV12.rawValue, width: 320, height: 240) == nil)
        #expect(ImportFormat.from(spaFormat: SPA_VIDEO_FORMAT_BGRx.rawValue, width: 0, height: 0) == nil)
        #expect(ImportFormat.from(spaFormat: SPA_VIDEO_FORMAT_BGRx.rawValue, width: UInt32(SourceFormat.maxSide) + 1, height: 1) == nil)
        #expect(ImportFormat.from(spaFormat: SPA_VIDEO_FORMAT_BGRx.rawValue, width: UInt32(SourceFormat.maxSide), height: 1) != nil)
    }
}
