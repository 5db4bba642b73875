import Testing
@testable import Proxy

@Suite struct DamageMapperTests {
    @Test func identityMappingAddsOnePixelMargin() {
        let r = DamageMapper.bufferRect(surface: Rect(x: 10, y: 20, width: 30, height: 40), scale: 1, transform: 0,
                                        viewport: ViewportState(), bufferWidth: 200, bufferHeight: 200)
        #expect(r == Rect(x: 9, y: 19, width: 32, height: 42))
    }

    @Test func scaleMultipliesCoordinates() {
        let r = DamageMapper.bufferRect(surface: Rect(x: 10, y: 10, width: 5, height: 5), scale: 2, transform: 0,
                                        viewport: ViewportState(), bufferWidth: 200, bufferHeight: 200)
        #expect(r == Rect(x: 19, y: 19, width: 12, height: 12))
    }

    @Test func rotatedBufferCountsWhole() {
        let r = DamageMapper.bufferRect(surface: Rect(x: 1, y: 1, width: 1, height: 1), scale: 1, transform: 1,
                                        viewport: ViewportState(), bufferWidth: 64, bufferHeight: 32)
        #expect(r == Rect(x: 0, y: 0, width: 64, height: 32))
    }

    @Test func viewportSourceAndDestinationScale() {
        // Source 100x100 at (50,50) shown at 50x50: surface (10,10,5,5) -> buffer (70,70,10,10).
        var v = ViewportState()
        v.source = (50, 50, 100, 100)
        v.destination = (50, 50)
        let r = DamageMapper.bufferRect(surface: Rect(x: 10, y: 10, width: 5, height: 5), scale: 1, transform: 0,
                                        viewport: v, bufferWidth: 400, bufferHeight: 400)
        #expect(r == Rect(x: 69, y: 69, width: 12, height: 12))
    }

    @Test func damageIsClippedToBuffer() {
        let r = DamageMapper.bufferRect(surface: Rect(x: -50, y: 90, width: 1000, height: 1000), scale: 1, transform: 0,
                                        viewport: ViewportState(), bufferWidth: 100, bufferHeight: 100)
        #expect(r == Rect(x: 0, y: 89, width: 100, height: 11))
    }
}

@Suite struct SurfaceStateTests {
    /// The whole-buffer rule for new attachments lives in DamageHistory.
    @Test func newAttachmentReportsItsDamage() {
        var s = SurfaceState()
        s.pendingBuffer = 7
        s.addDamage(Rect(x: 0, y: 0, width: 1, height: 1), buffer: true)
        let (fresh, rects) = s.commit(bufferSize: (64, 48))
        #expect(fresh)
        #expect(rects == [Rect(x: 0, y: 0, width: 1, height: 1)])
        #expect(s.buffer == 7)
    }

    @Test func bufferDamageIsUsedAsIs() {
        var s = SurfaceState()
        s.pendingBuffer = 7
        _ = s.commit(bufferSize: (64, 48))
        s.addDamage(Rect(x: 4, y: 5, width: 6, height: 7), buffer: true)
        let (fresh, rects) = s.commit(bufferSize: (64, 48))
        #expect(!fresh)
        #expect(rects == [Rect(x: 4, y: 5, width: 6, height: 7)])
    }

    @Test func pendingDamageClearsAfterCommit() {
        var s = SurfaceState()
        s.pendingBuffer = 1
        _ = s.commit(bufferSize: (10, 10))
        s.addDamage(Rect(x: 0, y: 0, width: 2, height: 2), buffer: false)
        _ = s.commit(bufferSize: (10, 10))
        let (_, rects) = s.commit(bufferSize: (10, 10))
        #expect(rects.isEmpty)
    }

    @Test func scaleAppliesFromTheCommitThatSetsIt() {
        var s = SurfaceState()
        s.pendingBuffer = 1
        _ = s.commit(bufferSize: (100, 100))
        s.pendingScale = 2
        s.addDamage(Rect(x: 10, y: 10, width: 1, height: 1), buffer: false)
        let (_, rects) = s.commit(bufferSize: (100, 100))
        #expect(rects == [Rect(x: 19, y: 19, width: 4, height: 4)])
    }

    @Test func tooManyRectanglesBecomeWholeBuffer() {
        var s = SurfaceState()
        s.pendingBuffer = 1
        _ = s.commit(bufferSize: (100, 100))
        for i in 0...(SurfaceState.maxRects) { s.addDamage(Rect(x: i % 100, y: 0, width: 1, height: 1), buffer: true) }
        let (_, rects) = s.commit(bufferSize: (100, 100))
        #expect(rects == [Rect(x: 0, y: 0, width: 100, height: 100)])
    }
}
