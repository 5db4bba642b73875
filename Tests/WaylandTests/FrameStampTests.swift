@testable import Harness
import Testing

/// The frame stamp `porthole share publish` writes and every consumer checks
/// (docs/buffer-sharing.md §6); the C consumer in the integration tests
/// computes the same checksum.
@Suite struct FrameStampTests {
    @Test func theChecksumIsTheDocumentedOne() {
        let bytes: [UInt8] = Array(1...9)
        // Worked out by hand (in Python) from the description in FrameStamp.
        #expect(bytes.withUnsafeBytes { FrameStamp.checksum($0.baseAddress!, count: 9) } == 0xF70F_13FD_27F9_2EDF)
        #expect(FrameStamp.checksum(UnsafeRawPointer(bitPattern: 8)!, count: 0) == 0xCBF2_9CE4_8422_2325)
    }

    @Test func aStampedFrameVerifiesAndAnyChangedByteOrAnotherSequenceDoesNot() {
        var frame = [UInt8](repeating: 0, count: 4096)
        for i in 0..<frame.count { frame[i] = UInt8(truncatingIfNeeded: i * 7) }
        frame.withUnsafeMutableBytes { FrameStamp.stamp($0.baseAddress!, size: 4096, sequence: 42, time: 123) }
        frame.withUnsafeBytes { b in
            #expect(FrameStamp.read(b.baseAddress!, size: 4096) == FrameStamp.Stamp(sequence: 42, time: 123, checksum: FrameStamp.checksum(b.baseAddress! + 32, count: 4064)))
            #expect(FrameStamp.verify(b.baseAddress!, size: 4096, sequence: 42))
            #expect(!FrameStamp.verify(b.baseAddress!, size: 4096, sequence: 43))
        }
        #expect(Array(frame[0..<4]) == [0x50, 0x48, 0x46, 0x52], "PHFR")
        frame[4000] &+= 1
        #expect(!frame.withUnsafeBytes { FrameStamp.verify($0.baseAddress!, size: 4096, sequence: 42) })
    }

    @Test func theBandPatternDamagesTheOldBandTheNewBandAndTheStampsRow() {
        let p = BandPattern(width: 8, height: 64)
        var pixels = [UInt8](repeating: 0, count: 8 * 64 * 4)
        let damage = pixels.withUnsafeMutableBytes { b -> [BandPattern.Rect] in
            p.paintBackground(b.baseAddress!)
            _ = p.paintFrame(b.baseAddress!, 1)
            return p.paintFrame(b.baseAddress!, 2)
        }
        #expect(damage == [BandPattern.Rect(x: 0, y: 16, width: 8, height: 16), BandPattern.Rect(x: 0, y: 32, width: 8, height: 16),
                           BandPattern.Rect(x: 0, y: 0, width: 8, height: 1)])
        let row16 = pixels.withUnsafeBytes { $0.load(fromByteOffset: 16 * 32, as: UInt32.self) }
        #expect(row16 == BandPattern.background(x: 0, y: 16), "the old band is background again")
        let row32 = pixels.withUnsafeBytes { $0.load(fromByteOffset: 32 * 32, as: UInt32.self) }
        #expect(row32 == BandPattern.band(2))
    }

    @Test func aPNGHasItsSignatureChunksAndCRCs() {
        let png = PNGFile.encode(width: 2, height: 1) { x, _ in x == 0 ? (255, 0, 0) : (0, 0, 255) }
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(png.suffix(12)) == [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82], "IEND and its CRC")
        #expect(PNGFile.crc32(Array("IEND".utf8)) == 0xAE42_6082)
    }
}
