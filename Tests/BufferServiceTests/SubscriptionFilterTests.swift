@testable import BufferService
import Testing

@Suite struct SubscriptionFilterTests {
    @Test func anApplicationMatchesExactlyAndStarMatchesEveryOne() {
        let camera = SubscriptionFilter(application: "camera", guest: nil)
        #expect(camera.matches(guest: "a", application: "camera"))
        #expect(!camera.matches(guest: "a", application: "Camera") && !camera.matches(guest: "a", application: "camera2"))
        let every = SubscriptionFilter(application: "*", guest: nil)
        #expect(every.matches(guest: "a", application: "camera") && every.matches(guest: "b", application: "wayland-proxy"))
    }

    @Test func aGuestFilterMatchesThatGuestOnly() {
        let f = SubscriptionFilter(application: "camera", guest: "vm1")
        #expect(f.matches(guest: "vm1", application: "camera"))
        #expect(!f.matches(guest: "vm1-2", application: "camera") && !f.matches(guest: "vm2", application: "camera"))
    }
}
