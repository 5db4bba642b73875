import Testing
@testable import PipeWireBridge

@Suite struct FormatDecisionTests {
    let vga = SourceFormat(pixel: .bgrx, width: 640, height: 480, stride: 2560)

    @Test func theSameSizeAndPixelsKeepTheNegotiatedFormatWhateverTheGuestsStride() {
        #expect(FormatDecision.decide(offered: vga, next: vga) == .keep)
        var padded = vga
        padded.stride = 4096
        #expect(FormatDecision.decide(offered: vga, next: padded) == .keep)
    }

    @Test func anotherSizeOrPixelLayoutIsRenegotiatedNeverResizedSilently() {
        let hd = SourceFormat(pixel: .bgrx, width: 1920, height: 1080, stride: 7680)
        #expect(FormatDecision.decide(offered: vga, next: hd) == .renegotiate(hd))
        var taller = vga
        taller.height = 481
        #expect(FormatDecision.decide(offered: vga, next: taller) == .renegotiate(taller))
        var alpha = vga
        alpha.pixel = .bgra
        #expect(FormatDecision.decide(offered: vga, next: alpha) == .renegotiate(alpha))
    }
}
