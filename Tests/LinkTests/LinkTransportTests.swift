import Glibc
import Link
import PortholeSystem
import SystemTestSupport
import Testing


/// Links over the transports that are not plain sockets: a `file:` device
/// (a pty in raw mode stands in for a virtio-serial port) and hybrid vsock.
@Suite struct LinkTransportTests {
    /// Frames of every shape, with all byte values, and one near the payload
    /// limit that a pty can only take in pieces.
    private func sampleFrames() -> [LinkFrame] {
        var rng = SplitMix64(seed: 0x7074_7900)
        let big = randomBytes(1_000_000, using: &rng)
        let allBytes: [UInt8] = Array(0...255) + Array("\r\n\u{3}\u{4}\u{11}\u{13}\u{1A}\u{7F}".utf8)
        return [
            .channelOpen(channel: 1, bufAlloc: 262_144),
            .data(channel: 1, credit: .init(bufAlloc: 262_144, fwdCnt: 0), resources: [], bytes: allBytes),
            .resourceOpen(channel: 1, resource: 1, kind: .shmPool, size: UInt64(big.count)),
            .resourceUpdate(channel: 1, resource: 1, ranges: [UpdateRange(offset: 0, length: UInt32(big.count))], bytes: big),
            .pipeData(channel: 1, resource: 2, bytes: allBytes.reversed()),
            .channelClose(channel: 1, code: 0, reason: "done ✓"),
        ]
    }

    @Test func linkOverAFileDeviceInRawMode() throws {
        let (master, path) = try openPTY()
        let device = try Socket.connect(.file(path: path))
        let loop = try EventLoop()
        let rg = Recorder(), rh = Recorder()
        // The guest opens the device; the pty master plays the host end of
        // the virtio-serial port (a non-socket too).
        let guest = try LinkEndpoint(socket: device, role: .guest, name: "file:\(path)", loop: loop, delegate: rg)
        let host = try LinkEndpoint(socket: master, role: .host, name: "pty master", loop: loop, delegate: rh)
        #expect(try runLoop(loop) { rg.opened == 1 && rh.opened == 1 })

        let frames = sampleFrames()
        for f in frames { guest.send(f) }
        let back: [LinkFrame] = [.channelAccept(channel: 1, bufAlloc: 65_536), .pipeClose(channel: 1, resource: 2)]
        for f in back { host.send(f) }
        #expect(try runLoop(loop, timeout: 30) { rh.frames.count == frames.count && rg.frames.count == back.count })
        #expect(rh.frames == frames, "the host end got every frame intact")
        #expect(rg.frames == back)
        #expect(guest.sentBytes == host.receivedBytes && host.sentBytes == guest.receivedBytes)
        #expect(rg.closes.isEmpty && rh.closes.isEmpty, "\(rg.closes) \(rh.closes)")

        // An orderly close reaches the other end.
        guest.close(reason: "guest stopping")
        #expect(try runLoop(loop) { rh.closes.count == 1 })
        #expect(rh.closes.first?.contains("guest stopping") == true, "\(rh.closes)")
        #expect(!host.closedByProtocolError)
    }

    @Test func aVanishingDeviceEndsTheLink() throws {
        let (master, path) = try openPTY()
        let device = try Socket.connect(.file(path: path))
        let loop = try EventLoop()
        let rg = Recorder(), rh = Recorder()
        let guest = try LinkEndpoint(socket: device, role: .guest, name: "file", loop: loop, delegate: rg)
        let host = try LinkEndpoint(socket: master, role: .host, name: "pty master", loop: loop, delegate: rh)
        #expect(try runLoop(loop) { rg.opened == 1 && rh.opened == 1 })
        guest.close(reason: "gone", notifyPeer: false)
        #expect(try runLoop(loop) { rh.closes.count == 1 })
        #expect(rg.closes == ["gone"])
        #expect(host.isClosed && !host.closedByProtocolError)
        #expect(rh.closes.first == "peer closed the connection", "a hung-up tty is the end of the stream: \(rh.closes)")
    }

    @Test func linkThroughAHybridVsockVMM() throws {
        let path = "/tmp/porthole-mux-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        let listener = try Socket.listen(.unix(path: path))
        let loop = try EventLoop()
        let rg = Recorder(), rh = Recorder()

        // The fake VMM: read "CONNECT <port>\n", answer OK, then the guest
        // proxy's end of the vsock stream speaks at once (its hello follows
        // the OK line closely).
        var request: [UInt8] = []
        var connection: OwnedFD?
        var connectionToken: EventLoop.Token?
        var guest: LinkEndpoint?
        let listenerToken = try loop.register(listener.rawValue, events: .readable) { _ in
            guard connection == nil, let fd = try? Socket.accept(listener) else { return }
            connection = fd
            connectionToken = try? loop.register(fd.rawValue, events: .readable) { _ in
                var b: UInt8 = 0
                while recv(fd.rawValue, &b, 1, Int32(MSG_DONTWAIT)) == 1 {
                    request.append(b)
                    guard b == UInt8(ascii: "\n") else { continue }
                    loop.unregister(connectionToken!)
                    writeAll(fd.rawValue, Array("OK 1073741824\n".utf8))
                    guest = try? LinkEndpoint(socket: fd, role: .guest, name: "vmm side", loop: loop, delegate: rg)
                    return
                }
            }
        }
        defer { loop.unregister(listenerToken) }

        var result: Result<OwnedFD, SystemError>?
        _ = PendingConnect(to: .vsockMux(path: path, port: 7300), loop: loop) { result = $0 }
        #expect(try runLoop(loop) { result != nil })
        let stream = try #require(try result?.get())
        let host = try LinkEndpoint(socket: stream, role: .host, name: "vsock-mux", loop: loop, delegate: rh)
        #expect(try runLoop(loop) { rg.opened == 1 && rh.opened == 1 })
        #expect(String(decoding: request, as: UTF8.self) == "CONNECT 7300\n")

        guest?.send(.channelOpen(channel: 5, bufAlloc: 1024))
        host.send(.channelAccept(channel: 5, bufAlloc: 2048))
        #expect(try runLoop(loop) { rh.frames.count == 1 && rg.frames.count == 1 })
        #expect(rh.frames == [.channelOpen(channel: 5, bufAlloc: 1024)])
        #expect(rg.frames == [.channelAccept(channel: 5, bufAlloc: 2048)])
        #expect(rg.closes.isEmpty && rh.closes.isEmpty, "\(rg.closes) \(rh.closes)")
    }
}
