import Link
import Testing

/// channelOpen's `service` field (link protocol §3.3, §12).
@Suite struct ChannelServiceCodecTests {
    @Test func channelOpenCarriesItsServiceAfterTheBufferSize() throws {
        #expect(FrameCodec.encode(.channelOpen(channel: 5, bufAlloc: 0x0004_0000, service: .bufferService)) ==
            [8, 0, 0, 0, 0x10, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0x04, 0, 1, 0, 0, 0])
        #expect(FrameCodec.encode(.channelOpen(channel: 5, bufAlloc: 0x0004_0000)) ==
            [8, 0, 0, 0, 0x10, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0])
        var open: [UInt8] = []
        open.le32(1000); open.le32(1)
        #expect(try decodeFrame(rawFrame(type: 16, channel: 3, payload: open)) == .channelOpen(channel: 3, bufAlloc: 1000, service: .bufferService))
        var consumer: [UInt8] = []
        consumer.le32(1000); consumer.le32(2)
        #expect(try decodeFrame(rawFrame(type: 16, channel: 3, payload: consumer)) == .channelOpen(channel: 3, bufAlloc: 1000, service: .bufferConsumer))
    }

    @Test func channelOpenWithAnUnknownServiceIsMalformed() {
        var open: [UInt8] = []
        open.le32(1000); open.le32(3)
        let e = protocolError { () throws(LinkProtocolError) in _ = try decodeFrame(rawFrame(type: 16, channel: 3, payload: open)) }
        #expect(e == .malformed(.channelOpen, "unknown service 3"))
    }
}
