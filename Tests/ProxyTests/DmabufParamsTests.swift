import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// The checks a zwp_linux_buffer_params_v1 makes before a buffer is made of
/// it. They are arithmetic on what the client said and on the dma-buf's
/// size: memfds stand in for the dma-bufs here (only their fd objects are
/// used), and the dma-buf's size is given. That a real dma-buf passes them
/// and shows is `GPUBufferVMTests`; that a memfd is refused as not a
/// dma-buf is `LinuxDmabufExtensionTests`.
@Suite struct DmabufParamsTests {
    static let xrgb: UInt32 = 0x3432_5258 // "XR24"
    static let argb: UInt32 = 0x3432_5241 // "AR24"
    static let rgb565: UInt32 = 0x3631_4752 // "RG16"
    /// DRM fourcc -> wl_shm format, as the extension offers them.
    static let formats: [UInt32: UInt32] = [xrgb: 1, argb: 0, rgb565: rgb565]
    static let maxSize = 1 << 30

    func plane(offset: UInt32 = 0, stride: UInt32 = 400, modifier: UInt64 = 0) throws -> DmabufPlane {
        DmabufPlane(fd: try Memfd.create(name: "stand-in", size: 4096), offset: offset, stride: stride, modifier: modifier)
    }

    func params(_ planes: [UInt32: DmabufPlane]) throws -> DmabufParams {
        var p = DmabufParams(id: 7)
        for (i, plane) in planes { try p.add(plane, index: i) }
        return p
    }

    /// The error code of `body`'s fault, or nil if it passed.
    func code(_ body: () throws(MessageFault) -> Void) -> DmabufParamsErrorCode? {
        do { try body() } catch { return DmabufParamsErrorCode(rawValue: error.code) }
        return nil
    }

    func check(_ p: DmabufParams, width: Int32 = 100, height: Int32 = 50, format: UInt32 = xrgb, flags: UInt32 = 0,
               size: Int? = 20000) -> DmabufParamsErrorCode? {
        code { () throws(MessageFault) in
            _ = try p.check(width: width, height: height, format: format, flags: flags, formats: Self.formats,
                            dmabufSize: { _ in size }, maxSize: Self.maxSize)
        }
    }

    @Test func aBufferEndingExactlyAtTheEndOfItsDmaBufIsAcceptedAndOneByteMoreIsOutOfBounds() throws {
        // 100 x 50 XRGB8888 with stride 400 from offset 0: 20000 bytes.
        let p = try params([0: plane()])
        #expect(check(p, size: 20000) == nil)
        let checked = try p.check(width: 100, height: 50, format: Self.xrgb, flags: 0, formats: Self.formats,
                                  dmabufSize: { _ in 20000 }, maxSize: Self.maxSize)
        #expect(checked.end == 20000 && checked.shmFormat == 1)
        #expect(check(p, size: 19999) == .outOfBounds)
        let shifted = try params([0: plane(offset: 4)])
        #expect(check(shifted, size: 20003) == .outOfBounds)
        #expect(check(shifted, size: 20004) == nil)
    }

    @Test func aStrideShorterThanARowIsOutOfBounds() throws {
        #expect(check(try params([0: plane(stride: 399)])) == .outOfBounds)
        #expect(check(try params([0: plane(stride: 200)]), format: Self.rgb565) == nil, "RGB565 rows are 2 bytes a pixel")
    }

    @Test func offsetsAndStridesNearTheirLimitsAreRefusedWithoutOverflow() throws {
        let huge = try params([0: plane(offset: .max, stride: .max)])
        #expect(check(huge, height: .max, size: .max) == .outOfBounds)
        let farOffset = try params([0: plane(offset: .max - 100)])
        #expect(check(farOffset, size: Int(UInt32.max)) == .outOfBounds, "over the proxy's limit for one buffer")
    }

    @Test func planeIndexesAreBelowFourAndEachSetOnce() throws {
        var p = DmabufParams(id: 7)
        let c4 = code { () throws(MessageFault) in try p.add(try! plane(), index: 4) }
        #expect(c4 == .planeIdx)
        try p.add(try plane(), index: 0)
        let again = code { () throws(MessageFault) in try p.add(try! plane(), index: 0) }
        #expect(again == .planeSet)
    }

    @Test func aMissingPlaneZeroIsIncompleteAndExtraPlanesOfASinglePlaneFormatAreRefused() throws {
        #expect(check(try params([1: plane()])) == .incomplete)
        #expect(check(try params([0: plane(), 1: plane()])) == .incomplete)
    }

    @Test func formatsNotOfferedAndModifiersOtherThanLinearAreInvalidFormats() throws {
        let p = try params([0: plane()])
        #expect(check(p, format: 0x3231_564E) == .invalidFormat, "NV12 is not offered")
        #expect(check(try params([0: plane(modifier: 0x0100_0000_0000_0001)])) == .invalidFormat, "an Intel X-tiled modifier")
    }

    @Test func theImplicitModifierIsReadAsLinear() throws {
        #expect(check(try params([0: plane(modifier: 0x00FF_FFFF_FFFF_FFFF)])) == nil)
    }

    @Test func emptyOrNegativeSizesAreInvalidDimensions() throws {
        let p = try params([0: plane()])
        #expect(check(p, width: 0) == .invalidDimensions)
        #expect(check(p, height: -1) == .invalidDimensions)
    }

    @Test func yInvertedBuffersAreTakenAndInterlacedOnesMakeAnInvalidBuffer() throws {
        let p = try params([0: plane()])
        #expect(check(p, flags: 1) == nil, "y_invert")
        #expect(try p.check(width: 100, height: 50, format: Self.xrgb, flags: 1, formats: Self.formats,
                            dmabufSize: { _ in 20000 }, maxSize: Self.maxSize).yInverted)
        #expect(check(p, flags: 2) == .invalidWlBuffer, "interlaced")
        #expect(check(p, flags: 1 | 4) == .invalidWlBuffer, "bottom_first")
    }

    @Test func aPlaneWhoseFdIsNotADmaBufMakesAnInvalidBuffer() throws {
        #expect(check(try params([0: plane()]), size: nil) == .invalidWlBuffer)
    }

    @Test func paramsAreUsedOnceAndTakeNoPlaneAfterwards() throws {
        var p = try params([0: plane()])
        try p.use()
        let second = code { () throws(MessageFault) in try p.use() }
        #expect(second == .alreadyUsed)
        let late = code { () throws(MessageFault) in try p.add(try! plane(), index: 1) }
        #expect(late == .alreadyUsed)
    }

    @Test func theFeedbackFormatTableHoldsSixteenByteEntriesOfEachFormatLinearThenImplicit() {
        let bytes = DmabufFormatTable.bytes(formats: [Self.argb, Self.xrgb])
        #expect(bytes.count == 64)
        let argb: [UInt8] = [0x41, 0x52, 0x32, 0x34, 0, 0, 0, 0], xrgb: [UInt8] = [0x58, 0x52, 0x32, 0x34, 0, 0, 0, 0]
        let linear = [UInt8](repeating: 0, count: 8), implicit: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]
        #expect(bytes == argb + linear + argb + implicit + xrgb + linear + xrgb + implicit)
    }

    @Test func wlShmsTwoOldestFormatsMapToTheirFourccsAndTheOthersAreThemselves() {
        #expect(drmFourcc(shmFormat: 0) == Self.argb && drmFourcc(shmFormat: 1) == Self.xrgb)
        #expect(shmFormat(drmFourcc: Self.argb) == 0 && shmFormat(drmFourcc: Self.xrgb) == 1)
        #expect(drmFourcc(shmFormat: Self.rgb565) == Self.rgb565 && shmFormat(drmFourcc: Self.rgb565) == Self.rgb565)
    }
}
