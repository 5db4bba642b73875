import Foundation
@testable import PortholeSystem
import SystemTestSupport
import Testing

/// Telling a virtio-gpu that renders with virgl from other DRM devices, on
/// sysfs stand-ins laid out as a QEMU guest's (docs/gpu-buffers.md).
@Suite struct DRMDevicesTests {
    /// A sysfs stand-in: for each (type, features) a cardN whose device is
    /// a PCI function (device 0x1050, as in a QEMU guest with
    /// virtio-gpu-pci) with the virtio device as its child virtioN, or with
    /// `direct` the virtio device itself; and a connector directory
    /// (card0-Virtual-1) to skip. Made in `root`, which the caller removes.
    func fakeSysfs(_ cards: [(type: String, features: String)], direct: Bool = false, in root: String) throws {
        for (i, c) in cards.enumerated() {
            let pci = "\(root)/card\(i)/device"
            let dir = direct ? pci : "\(pci)/virtio\(i)"
            try FileManager.default.createDirectory(atPath: pci, withIntermediateDirectories: true)
            if !direct { try "0x1050\n".write(toFile: "\(pci)/device", atomically: true, encoding: .utf8) }
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "\(c.type)\n".write(toFile: "\(dir)/device", atomically: true, encoding: .utf8)
            try "\(c.features)\n".write(toFile: "\(dir)/features", atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(atPath: "\(root)/card0-Virtual-1", withIntermediateDirectories: true)
    }

    func hasVirgl(_ cards: [(type: String, features: String)], direct: Bool = false) throws -> Bool {
        try withTemporaryDirectory(prefix: "porthole-drm") { root in
            try fakeSysfs(cards, direct: direct, in: root.path)
            return DRMDevices.hasVirglDevice(sysfs: root.path)
        }
    }

    @Test func aVirtioGPUWithVirglIsToldApartFromA2DOneAndFromOtherDevices() throws {
        #expect(try hasVirgl([(type: "0x0010", features: "1100000000000000000000000000000000")]))
        #expect(try !hasVirgl([(type: "0x0010", features: "0100000000000000000000000000000000")]), "virtio-gpu without virgl (2D)")
        #expect(try !hasVirgl([(type: "0x0001", features: "1")]), "a virtio device of another type")
        #expect(try hasVirgl([(type: "0x0001", features: "1"), (type: "0x0010", features: "1")]), "the second card")
        #expect(try hasVirgl([(type: "0x0010", features: "1")], direct: true), "the virtio device as the card's device")
        #expect(try !hasVirgl([(type: "0x0010", features: "0")], direct: true))
        #expect(try !hasVirgl([]), "no device")
        #expect(!DRMDevices.hasVirglDevice(sysfs: "/nonexistent/drm"))
    }
}
