import PortholeSystem

extension LinkFrame {
    /// The channel a channel-scoped frame belongs to.
    public var channel: UInt32? {
        switch self {
        case .hello, .closeLink, .regionInfo, .bufferRegister, .bufferUnregister, .registryReset, .laneOffer, .laneAttach: return nil
        case .channelOpen(let c, _, _), .channelAccept(let c, _), .channelClose(let c, _, _), .data(let c, _, _, _),
             .creditUpdate(let c, _), .creditRequest(let c), .resourceOpen(let c, _, _, _), .resourceExtend(let c, _, _),
             .resourceUpdate(let c, _, _, _), .resourceClose(let c, _), .pipeData(let c, _, _), .pipeClose(let c, _), .laneMove(let c):
            return c
        }
    }
}
