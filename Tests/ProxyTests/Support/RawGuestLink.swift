import Link
import PortholeSystem
import Sharing
import Testing
import Wayland

/// The guest end of a link, driven by hand: a `LinkEndpoint` of role guest
/// that sends whatever frame the test gives it (including what a guest proxy
/// would refuse to send) and records every frame the host sends back, and
/// why the link ended.
final class RawGuestLink: LinkEndpointDelegate {
    private(set) var endpoint: LinkEndpoint!
    /// Frames from the host after the handshake, in order.
    private(set) var frames: [LinkFrame] = []
    /// Why the link ended (as this end's endpoint reports it), once it has.
    private(set) var closeReason: String?
    /// The host's regionInfo, if it sent one.
    private(set) var hostRegion: (size: UInt64, tag: [UInt8])?
    /// The token of the host's laneOffer, if it sent one.
    private(set) var laneToken: [UInt8]?
    /// The buffer this guest offers each channel (its credit to the host).
    let bufAlloc: UInt32 = 1 << 20

    init(socket: OwnedFD, loop: EventLoop, offerRegion: Bool, offerBufferService: Bool = false, offerLane: Bool = false, name: String) throws {
        endpoint = try LinkEndpoint(socket: socket, role: .guest, name: name, loop: loop,
                                    features: (offerRegion ? LinkFeatures.sharedRegion : 0) | (offerBufferService ? LinkFeatures.bufferService : 0)
                                        | (offerLane ? LinkFeatures.bulkLane : 0),
                                    delegate: self)
    }

    var isOpen: Bool { endpoint.isOpen }
    var isClosed: Bool { closeReason != nil }

    // MARK: Sending

    func send(_ frame: LinkFrame) { endpoint.send(frame) }

    /// Bytes as they are, framed or not.
    func sendRaw(_ bytes: [UInt8]) { endpoint.enqueue(bytes, channel: nil) }

    func openChannel(_ c: UInt32, service: ChannelService = .compositor) { send(.channelOpen(channel: c, bufAlloc: bufAlloc, service: service)) }

    /// One data frame on `channel` carrying `messages` back to back and `resources`.
    func wayland(_ channel: UInt32, _ messages: [[UInt8]], resources: [UInt32] = []) {
        send(.data(channel: channel, credit: .init(bufAlloc: bufAlloc, fwdCnt: 0), resources: resources, bytes: messages.flatMap { $0 }))
    }

    /// One Wayland request on `channel`.
    func request(_ channel: UInt32, _ object: UInt32, _ opcode: UInt16, _ args: [WireArg], resources: [UInt32] = []) {
        wayland(channel, [WireCodec.encode(objectID: object, opcode: opcode, args)], resources: resources)
    }

    /// Echoes the host's regionInfo (call once it arrived).
    func agreeOnRegion() throws {
        let info = try #require(hostRegion, "the host sent no regionInfo")
        send(.regionInfo(size: info.size, tag: info.tag))
    }

    // MARK: What came back

    func accepted(_ c: UInt32) -> Bool {
        frames.contains { if case .channelAccept(c, _) = $0 { return true } else { return false } }
    }

    /// The host's channelClose for `c`, if any: (code, reason).
    func channelClose(_ c: UInt32) -> (code: UInt32, reason: String)? {
        for f in frames { if case .channelClose(c, let code, let reason) = f { return (code, reason) } }
        return nil
    }

    /// Every Wayland message the host sent on channel `c`, in order.
    func events(_ c: UInt32) -> [WaylandMessage] {
        frames.flatMap { f -> [WaylandMessage] in
            if case .data(c, _, _, let bytes) = f { return WaylandMessage.split(bytes) }
            return []
        }
    }

    /// The wl_display.error the host sent on channel `c`: (object, code, message).
    func displayError(_ c: UInt32) -> (object: UInt32, code: UInt32, message: String)? {
        events(c).lazy.compactMap { $0.displayError }.first
    }

    // MARK: LinkEndpointDelegate

    func linkDidOpen(_ link: LinkEndpoint) {}

    func link(_ link: LinkEndpoint, received frame: LinkFrame) throws(LinkProtocolError) {
        frames.append(frame)
        if case .regionInfo(let size, let tag) = frame { hostRegion = (size, tag) }
    }

    func linkDidDrain(_ link: LinkEndpoint) {}

    func link(_ link: LinkEndpoint, offersLane token: [UInt8]) { laneToken = token }

    func linkDidClose(_ link: LinkEndpoint, reason: String) { closeReason = reason }
}

/// One Wayland message split out of a byte stream.
struct WaylandMessage: CustomStringConvertible {
    var objectID: UInt32
    var opcode: UInt16
    var bytes: [UInt8]

    var description: String { "object \(objectID) opcode \(opcode) (\(bytes.count) bytes)" }

    /// Whole messages at the start of `bytes`.
    static func split(_ bytes: [UInt8]) -> [WaylandMessage] {
        var out: [WaylandMessage] = []
        var o = 0
        while o + Wire.headerSize <= bytes.count {
            guard let h = bytes.withUnsafeBytes({ MessageHeader.peek(UnsafeRawBufferPointer(rebasing: $0[o...])) }),
                  h.size >= Wire.headerSize, o + h.size <= bytes.count else { break }
            out.append(WaylandMessage(objectID: h.objectID, opcode: h.opcode, bytes: Array(bytes[o..<(o + h.size)])))
            o += h.size
        }
        return out
    }

    /// The arguments, decoded as `spec`.
    func args(_ spec: MessageSpec) -> [WireArg]? {
        try? bytes.withUnsafeBytes { try WireCodec.decode($0, spec) }
    }

    /// (object, code, message) if this is wl_display.error.
    var displayError: (object: UInt32, code: UInt32, message: String)? {
        guard objectID == Wire.displayID, opcode == 0, let a = args(ProtocolTables.builtin.display.events[0]),
              case .object(let o) = a[0], case .uint(let code) = a[1], case .string(let text) = a[2] else { return nil }
        return (o, code, String(decoding: text ?? [], as: UTF8.self))
    }

    /// (name, interface, version) if this is wl_registry.global on `registry`.
    func global(registry: UInt32) -> (name: UInt32, interface: String, version: UInt32)? {
        guard objectID == registry, opcode == 0, let a = args(ProtocolTables.builtin["wl_registry"]!.events[0]),
              case .uint(let name) = a[0], case .string(let iface?) = a[1], case .uint(let v) = a[2] else { return nil }
        return (name, String(decoding: iface, as: UTF8.self), v)
    }
}
