import Foundation
import Harness
import SystemTestSupport
import Testing

/// What the host compositor's buffers hold equals what the guest client drew,
/// byte for byte, frame after frame. The "compositor" is Harness's
/// RecordingCompositor, which copies every committed buffer out of the pool
/// fd the host proxy handed it.
@Suite("Pixel fidelity through the proxies", .serialized, .tags(.processes))
struct PixelFidelityTests {
    @Test("partial damage, frame after frame", arguments: [LinkTransportCase.unix, .tcp, .unixWithRegion])
    func framesArriveExactly(transport: LinkTransportCase) throws {
        let region = transport == .unixWithRegion
        let chain = try RecordedProxies(tcp: transport == .tcp,
                                        hostArguments: { region ? RegionModeTests.regionArguments($0).host : [] },
                                        guestArguments: { region ? RegionModeTests.regionArguments($0).guest : [] })
        defer { chain.stop() }
        let (compositor, host, guest) = (chain.compositor, chain.host, chain.guest)

        let width = 320, height = 200
        let client = try PatternClient(socketPath: guest.socketPath!, width: width, height: height)
        defer { client.close() }
        var rng = SplitMix64(seed: 42)
        var expected: [[UInt8]] = []
        let frames = 40
        for n in 0..<frames {
            let damage: Damage
            switch n % 4 {
            case 0: damage = .full
            case 1: damage = .rect(x: 0, y: 0, width: 1, height: 1)
            default:
                let x = Int.random(in: 0..<width, using: &rng), y = Int.random(in: 0..<height, using: &rng)
                damage = .rect(x: x, y: y, width: Int.random(in: 1...80, using: &rng), height: Int.random(in: 1...60, using: &rng))
            }
            let before = compositor.commitCount
            expected.append(try client.drawFrame(n, damage: damage))
            try #require(compositor.waitForCommits(before + 1, timeout: .seconds(10)), "frame \(n) never reached the compositor\n\(host.diagnostics())")
            try client.waitForFrameCallback()
        }
        let commits = compositor.commits.filter { $0.width == width && $0.height == height }
        #expect(commits.count >= frames)
        for (n, commit) in commits.suffix(frames).enumerated() {
            let firstBad = (0..<min(commit.bytes.count, expected[n].count)).first { commit.bytes[$0] != expected[n][$0] }
            #expect(commit.bytes == expected[n], "frame \(n) differs at byte \(firstBad ?? -1)")
        }
        #expect(compositor.postedErrors.isEmpty, "\(compositor.postedErrors)")
        let stats = try guest.stats()
        #expect(stats["client_errors"] == 0)
        if transport == .unixWithRegion {
            // Every pixel went through the shared region, none over the link.
            #expect(stats["pixel_bytes_sent"] == 0, "\(stats)")
            #expect(stats["region_pools", default: 0] >= 1, "\(stats)")
            #expect(stats["fallback_pools"] == 0, "\(stats)")
        }
    }
}

/// Buffers destroyed and re-created, with another size, over pool bytes
/// that full-damage frames had sent straight from the client's memory
/// (bytes the guest's mirror does not hold): every later frame, with
/// partial damage, must still arrive exactly.
@Suite(.tags(.processes)) struct BufferReplacementFidelityTests {
    @Test("new buffers over bytes the mirror missed", arguments: [LinkTransportCase.unix, .unixWithRegion])
    func replacedBuffersArriveExactly(transport: LinkTransportCase) throws {
        let region = transport == .unixWithRegion
        let chain = try RecordedProxies(hostArguments: { region ? RegionModeTests.regionArguments($0).host : [] },
                                        guestArguments: { region ? RegionModeTests.regionArguments($0).guest : [] })
        defer { chain.stop() }
        let (compositor, host, guest) = (chain.compositor, chain.host, chain.guest)
        let client = try PatternClient(socketPath: guest.socketPath!, width: 320, height: 200)
        defer { client.close() }
        var rng = SplitMix64(seed: 9)
        var expected: [(width: Int, height: Int, bytes: [UInt8])] = []
        func frame(_ n: Int, _ damage: Damage) throws {
            let before = compositor.commitCount
            expected.append((client.width, client.height, try client.drawFrame(n, damage: damage)))
            try #require(compositor.waitForCommits(before + 1, timeout: .seconds(10)), "frame \(n) never arrived\n\(host.diagnostics())")
            try client.waitForFrameCallback()
        }
        func partial() -> Damage {
            .rect(x: Int.random(in: 0..<client.width, using: &rng), y: Int.random(in: 0..<client.height, using: &rng),
                  width: Int.random(in: 1...90, using: &rng), height: Int.random(in: 1...70, using: &rng))
        }
        // Full frames: after the first, the guest copies without comparing
        // and, for long runs, sends straight from the client's memory.
        for n in 0..<6 { try frame(n, .full) }
        for n in 6..<10 { try frame(n, partial()) }
        for n in 10..<13 { try frame(n, .full) }
        // New buffers of another stride, each over bytes of both old ones.
        try client.replaceBuffers(width: 300, height: 190, offsets: [16_000, 260_000])
        try frame(13, .full)
        for n in 14..<40 { try frame(n, n % 9 == 0 ? .full : partial()) }

        let commits = compositor.commits.suffix(expected.count)
        #expect(commits.count == expected.count)
        for (n, (commit, want)) in zip(commits, expected).enumerated() {
            #expect(commit.width == want.width && commit.height == want.height, "frame \(n) size")
            let firstBad = (0..<min(commit.bytes.count, want.bytes.count)).first { commit.bytes[$0] != want.bytes[$0] }
            let same = commit.bytes == want.bytes
            #expect(same, "frame \(n) differs at byte \(firstBad ?? -1)")
        }
        #expect(compositor.postedErrors.isEmpty, "\(compositor.postedErrors)")
        #expect(try guest.stats()["client_errors"] == 0)
    }
}

enum LinkTransportCase: Sendable, CustomStringConvertible {
    case unix, tcp
    /// A unix link with a shared region file both proxies map.
    case unixWithRegion
    var description: String {
        switch self {
        case .unix: return "unix"
        case .tcp: return "tcp"
        case .unixWithRegion: return "unix + shared region"
        }
    }
}

