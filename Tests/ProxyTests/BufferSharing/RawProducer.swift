import BufferService
@testable import Link
import PortholeSystem
@testable import Proxy
import Testing
import Wayland

/// A buffer producer driven by hand on a raw guest link: it sends what a
/// guest proxy would refuse to send, on a buffer-service channel of the
/// in-process host, and reads what comes back.
struct RawProducer {
    let h: InProcessHost
    let g: RawGuestLink
    let channel: UInt32

    /// A new raw guest offering the buffer service, with channel `channel`
    /// opened for it and the producer global bound as 3 (`bind`).
    init(_ h: InProcessHost, guest: RawGuestLink? = nil, channel: UInt32 = 1, bind: Bool = true, version: UInt32 = 1,
         sourceLocation: SourceLocation = #_sourceLocation) throws {
        self.h = h
        g = try guest ?? h.connectGuest(offerBufferService: true, sourceLocation: sourceLocation)
        self.channel = channel
        g.openChannel(channel, service: .bufferService)
        try #require(h.pump { g.accepted(channel) || g.isClosed }, "channel not accepted: \(g.closeReason ?? "")", sourceLocation: sourceLocation)
        guard bind else { return }
        send(WlDisplayGetRegistry(registry: 2), on: 1)
        try #require(h.pump { !self.events(WlRegistryGlobal.self, on: 2).isEmpty }, "no producer global", sourceLocation: sourceLocation)
        send(WlRegistryBind(name: 1, id: UntypedNewID(interface: Array("porthole_buffer_producer_v1".utf8), version: version, id: 3)), on: 2)
    }

    func send<T: TypedMessage>(_ m: T, on object: UInt32, resources: [UInt32] = []) {
        g.wayland(channel, [m.encode(objectID: object)], resources: resources)
    }

    /// Opens guest memory resource `rid` of `size` bytes on the channel.
    func memory(_ rid: UInt32, size: UInt64) { g.send(.resourceOpen(channel: channel, resource: rid, kind: .shmPool, size: size)) }

    /// Registers buffer `id` of `size` bytes on a new resource `rid` and,
    /// if asked, publishes it.
    func register(_ id: UInt32, rid: UInt32, size: UInt32, application: String = "camera", publish: Bool = true) {
        memory(rid, size: UInt64(size))
        send(PortholeBufferProducerV1Register(id: id, offset: 0, size: size, application: Array(application.utf8)), on: 3, resources: [rid])
        if publish { send(PortholeBufferV1Publish(), on: id) }
    }

    func events<T: TypedMessage>(_: T.Type, on object: UInt32) -> [T] {
        guard let interface = ProtocolTables.builtin[T.interfaceName] else { return [] }
        let spec = interface.events[Int(T.opcode)]
        return g.events(channel).compactMap { m in
            guard m.objectID == object, m.opcode == T.opcode, let args = m.args(spec) else { return nil }
            return T(args)
        }
    }

    /// Checks that the producer got a wl_display.error about `object` with
    /// `code` and `fragment`, from the host proxy (`byHost`: the channel is
    /// then closed as a refused message) or from the buffer service (which
    /// closes its end: a normal close); that the link stays up; and that
    /// nothing of the producer is left in the service.
    func expectRefused(object: UInt32, code: UInt32, _ fragment: String, byHost: Bool = false,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let ended = h.pump { g.channelClose(channel) != nil || g.isClosed }
        #expect(ended, "not refused (expected '\(fragment)')", sourceLocation: sourceLocation)
        #expect(!g.isClosed, "the link closed: \(g.closeReason ?? "")", sourceLocation: sourceLocation)
        let error = g.displayError(channel)
        #expect(error?.object == object && error?.code == code && error?.message.contains(fragment) == true,
                "wl_display.error: \(error.map { "\($0)" } ?? "none")", sourceLocation: sourceLocation)
        if let close = g.channelClose(channel) {
            let expected = byHost ? ChannelCloseCode.refusedMessage : ChannelCloseCode.normal
            #expect(close.code == expected.rawValue, "channelClose \(close)", sourceLocation: sourceLocation)
        }
        #expect(h.pump { h.host.bufferService?.counters.producers == 0 && h.host.bufferService?.counters.buffers == 0 },
                "the service still holds the producer's things", sourceLocation: sourceLocation)
        #expect(h.hostSession(of: g)?.session.channels.heldResourceBytes == 0, "resource memory still held", sourceLocation: sourceLocation)
    }
}
