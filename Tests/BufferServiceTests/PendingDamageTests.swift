@testable import BufferService
import Testing

@Suite struct PendingDamageTests {
    @Test func rectanglesTravelAsFourInt32sEach() {
        var d = PendingDamage()
        d.add(x: 1, y: 2, width: 3, height: 4, limit: 8)
        d.add(x: -5, y: 6, width: 7, height: 8, limit: 8)
        #expect(d.wireBytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) } == [1, 2, 3, 4, -5, 6, 7, 8])
    }

    @Test func pastTheLimitTheUpdateIsTheWholeBufferAnEmptyList() {
        var d = PendingDamage()
        for i in 0..<3 { d.add(x: Int32(i), y: 0, width: 1, height: 1, limit: 2) }
        #expect(d.whole && d.wireBytes.isEmpty)
        d.add(x: 0, y: 0, width: 1, height: 1, limit: 2)
        #expect(d.wireBytes.isEmpty, "once whole, it stays whole")
    }

    @Test func noDamageIsAnEmptyListToo() {
        #expect(PendingDamage().wireBytes.isEmpty && !PendingDamage().whole)
    }
}
