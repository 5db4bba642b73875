// swift-tools-version:6.0
import PackageDescription

// Fuzz targets for every decoder of bytes a guest sends, and for a whole
// host link session. They are built only with libFuzzer:
//   swift build -c release -Xswiftc -sanitize=fuzzer -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
// which is what scripts/fuzz does (and scripts/test, for a bounded time).
let targets = ["fuzz-link-frames", "fuzz-wayland-messages", "fuzz-object-map", "fuzz-buffer-registry",
               "fuzz-region-header", "fuzz-vsock-reply", "fuzz-host-session"]

let package = Package(
    name: "PortholeFuzz",
    dependencies: [.package(name: "Porthole", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "PortholeLibraries", package: "Porthole")]),
    ] + targets.map {
        .executableTarget(name: $0, dependencies: ["FuzzSupport", .product(name: "PortholeLibraries", package: "Porthole")])
    }
)
