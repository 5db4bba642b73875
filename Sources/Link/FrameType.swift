/// Frame types of link protocol v1 (docs/link-protocol.md).
public enum FrameType: UInt16, Sendable {
    case hello = 1
    case closeLink = 2
    case regionInfo = 3
    case laneOffer = 4
    case laneAttach = 5
    case channelOpen = 16
    case channelAccept = 17
    case channelClose = 18
    case data = 19
    case creditUpdate = 20
    case creditRequest = 21
    case laneMove = 22
    case resourceOpen = 32
    case resourceExtend = 33
    case resourceUpdate = 34
    case resourceClose = 35
    case pipeData = 36
    case pipeClose = 37
    case bufferRegister = 48
    case bufferUnregister = 49
    case registryReset = 50
}
