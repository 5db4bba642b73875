// A whole host proxy, as InProcessHost builds it but with no test around
// it: one event loop, a HostProxy, a compositor on the same loop that
// decodes every request strictly (LoopCompositor), and each input as the
// bytes of one guest link after its hello. The input's first byte picks raw
// bytes (a recorded session, mutated) or frames built from the input, which
// reach deep states sooner. After each input the link is closed and the
// host must be back where it started: no session, no compositor
// connection, nothing counted against its totals, no descriptor left open.
import FuzzSupport
import Glibc
import Link
import PortholeSystem
import Proxy
import Wayland

Log.prefix = "fuzz host"
let loop = try! EventLoop()
let directory = TemporaryDirectory.removedAtExit("porthole-fuzz")
let compositor = try! LoopCompositor(path: directory + "/wayland-0", loop: loop)
var limits = LinkLimits()
limits.maxResourceSize = 4 << 20
limits.maxTotalResourceBytes = 16 << 20
limits.maxFds = 48
limits.channelBuffer = 16384
var hostLimits = HostLimits()
hostLimits.totalFds = 96
hostLimits.fdReserve = 8
hostLimits.totalMemory = 32 << 20
hostLimits.objectsPerChannel = 256
hostLimits.objectsPerGuest = 512
let host = HostProxy(loop: loop, displayPath: compositor.path, limits: limits, hostLimits: hostLimits)
host.registersSecurityContexts = false
let hello = FrameCodec.encode(.hello(version: 1, role: .guest, features: 0))

/// Runs the loop until nothing happens for a few turns (at most `turns`).
@MainActor func settle(_ turns: Int = 400) {
    var quiet = 0
    for _ in 0..<turns where quiet < 3 {
        quiet = loop.runOnce(timeout: 0) == 0 ? quiet + 1 : 0
    }
}

/// Writes `bytes` to the guest's end a frame at a time (as far as they
/// parse as frames), letting the host and the compositor answer in between
/// as a guest that waits for answers would see them, and reading whatever
/// the host sends so that its queue drains.
@MainActor func exchange(_ guest: OwnedFD, _ bytes: [UInt8]) {
    var offset = 0
    var scratch = [UInt8](repeating: 0, count: 1 << 16)
    var stalls = 0
    while offset < bytes.count && stalls < 50 {
        // The next frame's end, or everything left when it is no frame.
        var end = bytes.count
        if bytes.count - offset >= 12 {
            let length = 12 + (Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24)
            if length <= bytes.count - offset { end = offset + length }
        }
        while offset < end && stalls < 50 {
            let n = bytes.withUnsafeBytes { send(guest.rawValue, $0.baseAddress! + offset, end - offset, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if n > 0 { offset += n; stalls = 0 } else if n < 0 && errno != EAGAIN { return } else { stalls += 1 }
            settle(8)
            while scratch.withUnsafeMutableBytes({ recv(guest.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
        }
    }
    settle()
    while scratch.withUnsafeMutableBytes({ recv(guest.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
}

settle()
let baseline = openDescriptors()

runFuzzer { data in
    var input = FuzzInput(data)
    let (hostEnd, guestEnd) = try! Socket.pair()
    host.serve(link: hostEnd, from: "the fuzzer")
    var stream: [UInt8]
    if input.byte() & 1 == 0 {
        stream = input.rest()
    } else {
        var script = SessionScript(&input)
        stream = script.frames()
    }
    exchange(guestEnd, hello + stream)
    guestEnd.close()
    for _ in 0..<50 where host.guestsServed > 0 || compositor.connections > 0 { settle() }
    FuzzCheck(host.guestsServed == 0, "the host kept the link after its guest hung up")
    FuzzCheck(compositor.connections == 0, "\(compositor.connections) compositor connections outlived their link")
    FuzzCheck(host.heldForGuests == (0, 0), "still counted for guests: \(host.heldForGuests)")
    let open = openDescriptors()
    if getenv("FUZZ_TRACE") != nil { Log.info("input of \(data.count) bytes: the compositor has decoded \(compositor.requests) requests so far") }
    FuzzCheck(open.count == baseline.count, "descriptors left open: \(open.filter { baseline[$0.key] != $0.value })")
}
