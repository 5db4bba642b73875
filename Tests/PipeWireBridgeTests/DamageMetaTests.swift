import CLibPipeWire
import Testing
@testable import PipeWireBridge

@Suite struct DamageMetaTests {
    let format = SourceFormat(pixel: .bgrx, width: 100, height: 50, stride: 400)

    func regions(_ damage: [Int32], capacity: Int) -> [(Int32, Int32, UInt32, UInt32)] {
        var storage = [spa_meta_region](repeating: spa_meta_region(region: spa_region(position: spa_point(x: 9, y: 9), size: spa_rectangle(width: 9, height: 9))), count: capacity)
        storage.withUnsafeMutableBufferPointer { DamageMeta.write(damage, of: format, to: $0) }
        return storage.map { ($0.region.position.x, $0.region.position.y, $0.region.size.width, $0.region.size.height) }
    }

    @Test func rectanglesAreClippedToTheFrameAndTheArrayEndsWithAnEmptyRegion() {
        let r = regions([90, 40, 20, 20, -5, 0, 10, 10, 200, 200, 5, 5], capacity: 4)
        #expect(r[0] == (90, 40, 10, 10))
        #expect(r[1] == (0, 0, 5, 10))
        #expect(r[2] == (0, 0, 0, 0))
        #expect(r[3] == (9, 9, 9, 9))
    }

    @Test func noDamageOrMoreRectanglesThanFitMeanTheWholeFrame() {
        #expect(regions([], capacity: 2)[0] == (0, 0, 100, 50))
        let many = regions([0, 0, 1, 1, 2, 2, 1, 1, 4, 4, 1, 1], capacity: 2)
        #expect(many[0] == (0, 0, 100, 50))
        #expect(many[1] == (0, 0, 0, 0))
    }

    @Test func nodeNamesArePlainWordsFromGuestAndApplication() {
        #expect(NodeName.make(guest: "vm1", application: "camera", index: 1) == "porthole.vm1.camera.1")
        #expect(NodeName.make(guest: "a b", application: "x.y/\u{e9}", index: 2) == "porthole.a_b.x_y___.2")
        #expect(NodeName.make(guest: "", application: String(repeating: "a", count: 300), index: 3)
            == "porthole._.\(String(repeating: "a", count: 64)).3")
    }
}
