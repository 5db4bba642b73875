import Link

/// The channels of one link, as both proxies keep them: lookup and routing of
/// channel frames, ids closed by this side and not yet acknowledged by the
/// peer (frames for them are dropped, not errors), and the link's budget for
/// resource memory.
final class ChannelTable<Channel: ChannelEndpoint> {
    private(set) var channels: [UInt32: Channel] = [:]
    private var closing: Set<UInt32> = []
    private var resourceBytes: UInt64 = 0
    private let maxResourceBytes: UInt64

    init(limits: LinkLimits) { maxResourceBytes = limits.maxTotalResourceBytes }

    var count: Int { channels.count }
    var all: [Channel] { Array(channels.values) }
    subscript(id: UInt32) -> Channel? { channels[id] }

    /// Whether `id` may not be (re)used: open, or closed and unacknowledged.
    func isTaken(_ id: UInt32) -> Bool { channels[id] != nil || closing.contains(id) }

    func add(_ channel: Channel) { channels[channel.id] = channel }

    /// We told the peer `id` is closed; wait for its acknowledgement.
    func awaitAck(_ id: UInt32) { closing.insert(id) }

    /// A channel closed itself.
    func removed(_ channel: ChannelEndpoint, awaitingAck: Bool) {
        channels.removeValue(forKey: channel.id)
        if awaitingAck { closing.insert(channel.id) }
    }

    /// The open channel a frame belongs to, or nil when the frame is for a
    /// channel being closed (and is to be dropped). Unknown channels are an error.
    func target(of frame: LinkFrame) throws(LinkProtocolError) -> Channel? {
        guard let c = frame.channel else { throw .unexpected("frame without a channel") }
        if let ch = channels[c] { return ch }
        guard closing.contains(c) else { throw .unknownChannel(c) }
        if case .channelClose = frame { closing.remove(c) }
        return nil
    }

    /// The open channel `c`, nil when it is being closed; unknown ids are an error.
    func target(channel c: UInt32) throws(LinkProtocolError) -> Channel? {
        if let ch = channels[c] { return ch }
        guard closing.contains(c) else { throw .unknownChannel(c) }
        return nil
    }

    /// Accounts `n` bytes of resource memory; false when over the link's limit.
    func reserve(_ n: UInt64) -> Bool {
        guard resourceBytes + n <= maxResourceBytes else { return false }
        resourceBytes += n
        return true
    }

    func release(_ n: UInt64) { resourceBytes -= min(n, resourceBytes) }
}

extension LinkFrame {
    /// The channel a channel-scoped frame belongs to.
    var channel: UInt32? {
        switch self {
        case .hello, .closeLink, .regionInfo, .bufferRegister, .bufferUnregister, .registryReset: return nil
        case .channelOpen(let c, _), .channelAccept(let c, _), .channelClose(let c, _, _), .data(let c, _, _, _),
             .creditUpdate(let c, _), .creditRequest(let c), .resourceOpen(let c, _, _, _), .resourceExtend(let c, _, _),
             .resourceUpdate(let c, _, _, _), .resourceClose(let c, _), .pipeData(let c, _, _), .pipeClose(let c, _):
            return c
        }
    }
}
