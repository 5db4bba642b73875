import Testing
import Wayland

/// The 24.8 fixed-point value of `fixed` arguments.
@Suite struct FixedTests {
    @Test func theValueIsTheRawBitsOver256() {
        #expect(Fixed(raw: 256).doubleValue == 1)
        #expect(Fixed(raw: -384).doubleValue == -1.5)
        #expect(Fixed(raw: 1).doubleValue == 0.00390625)
        #expect(Fixed(raw: .max).doubleValue == 8_388_607.99609375)
        #expect(Fixed(raw: .min).doubleValue == -8_388_608)
    }
}
