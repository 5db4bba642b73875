// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Porthole",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "porthole", targets: ["porthole"]),
        // For the fuzz targets in Fuzz/, a package of its own built with
        // -sanitize=fuzzer (scripts/fuzz); nothing else links it.
        .library(name: "PortholeLibraries", targets: ["PortholeSystem", "Wayland", "Sharing", "Link", "Proxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CPorthole"),
        .target(name: "PortholeSystem", dependencies: ["CPorthole"]),
        .target(name: "Wayland", dependencies: ["PortholeSystem"]),
        .target(name: "Sharing", dependencies: ["PortholeSystem"]),
        .target(name: "Link", dependencies: ["PortholeSystem", "Sharing"]),
        .target(name: "BufferService", dependencies: ["PortholeSystem", "Wayland", "Sharing"]),
        .target(name: "Proxy", dependencies: ["PortholeSystem", "Wayland", "Link", "Sharing", "BufferService"]),
        .target(name: "Harness", dependencies: ["PortholeSystem", "Wayland"]),
        .target(name: "Bench", dependencies: ["Harness", "PortholeSystem"]),
        // libpipewire-0.3 (Debian: libpipewire-0.3-dev, installed by scripts/deps),
        // its flags from pkg-config; CPipeWire wraps its macros and callback tables.
        .systemLibrary(name: "CLibPipeWire", pkgConfig: "libpipewire-0.3", providers: [.apt(["libpipewire-0.3-dev"])]),
        .target(name: "CPipeWire", dependencies: ["CLibPipeWire"]),
        .target(name: "PipeWireBridge", dependencies: ["CPipeWire", "CLibPipeWire", "Harness", "PortholeSystem"]),
        .executableTarget(
            name: "porthole",
            dependencies: ["Proxy", "Bench", "Harness", "BufferService", "Sharing", "PipeWireBridge", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "porthole-gen", dependencies: ["Wayland"]),
        // Test helpers shared by several test targets (not shipped).
        .target(name: "SystemTestSupport", dependencies: ["PortholeSystem"], path: "Tests/SystemTestSupport"),
        .testTarget(name: "PortholeSystemTests", dependencies: ["PortholeSystem", "SystemTestSupport"]),
        .testTarget(name: "WaylandTests", dependencies: ["Wayland", "Harness", "SystemTestSupport"]),
        .testTarget(name: "SharingTests", dependencies: ["Sharing", "SystemTestSupport"]),
        .testTarget(name: "LinkTests", dependencies: ["Link", "Sharing", "SystemTestSupport"]),
        .testTarget(name: "BufferServiceTests", dependencies: ["BufferService", "Wayland", "PortholeSystem", "SystemTestSupport"]),
        .testTarget(name: "ProxyTests", dependencies: ["Proxy", "Link", "Wayland", "PortholeSystem", "Sharing", "BufferService", "SystemTestSupport"]),
        .testTarget(name: "BenchTests", dependencies: ["Bench", "Harness", "SystemTestSupport"]),
        .testTarget(name: "PipeWireBridgeTests", dependencies: ["PipeWireBridge", "SystemTestSupport"]),
        // Consumers/ holds C sources the tests compile and run themselves.
        .testTarget(name: "IntegrationTests", dependencies: ["Proxy", "Harness", "PortholeSystem", "Wayland", "Sharing", "SystemTestSupport"],
                    exclude: ["Consumers", "Clients"]),
    ]
)
